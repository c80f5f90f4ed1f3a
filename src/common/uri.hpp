// The one parser for key URIs: RFC 7512 syntax ("scheme:attr=v;attr=v?qattr=v&qattr=v"),
// shared by every key-store backend (pkcs11:, tpm2:). Backends check which attributes
// they accept; this layer checks the syntax, decodes %XX and refuses repeated attributes.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace hwca {

struct Uri {
  std::string scheme;                                      // lower case, without ':'
  std::vector<std::pair<std::string, std::string>> path;   // decoded values, in order
  std::vector<std::pair<std::string, std::string>> query;  // decoded values, in order

  std::optional<std::string> path_attr(std::string_view name) const;
  std::optional<std::string> query_attr(std::string_view name) const;
};

// Parse a URI. Errors (ErrorKind::usage) name the offending attribute, never a value
// (values may hold a PIN).
// tpm2: URIs (file paths) also take '/' as it is in path values; pkcs11: ones follow RFC 7512.
Result<Uri> parse_uri(std::string_view text);

// The scheme of `text` ("pkcs11" for "pkcs11:..."), or empty when it has none.
std::string uri_scheme(std::string_view text);

// Percent-encode a value for a URI attribute (RFC 7512 pk11-pchar / pk11-qchar).
// `slash`: leave '/' as it is (UriSyntax::slash_in_path).
std::string percent_encode(std::string_view value, bool query = false, bool slash = false);

// Format a URI back to text (values percent-encoded).
std::string format_uri(const Uri& uri);

}  // namespace hwca
