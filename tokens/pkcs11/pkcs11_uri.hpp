// pkcs11: URIs (RFC 7512) on top of the shared parser in common/uri.hpp.
#pragma once

#include <optional>
#include <string>

#include "common/result.hpp"
#include "common/uri.hpp"

namespace hwca::tokens::pkcs11 {

struct Pkcs11Uri {
  // Token selection (any subset; all given must match).
  std::optional<std::string> token, manufacturer, serial, model;
  std::optional<std::string> slot_description, slot_manufacturer;
  std::optional<unsigned long> slot_id;
  std::optional<std::string> library_manufacturer, library_description, library_version;
  // Object selection.
  std::optional<std::string> object;  // CKA_LABEL
  std::optional<std::string> id;      // CKA_ID, raw bytes
  std::optional<std::string> type;    // public, private, cert, secret-key, data
  // Query attributes.
  std::optional<std::string> module_path, module_name, pin_source;
  bool has_pin_value = false;  // the value itself is never kept

  bool selects_object() const { return object.has_value() || id.has_value(); }
};

// Parse and check a pkcs11: URI. Unknown standard attributes are refused; vendor
// attributes (x-...) are accepted and ignored.
Result<Pkcs11Uri> parse_pkcs11_uri(std::string_view text);
// The same checks on a URI parsed already (common/uri.hpp): what the key store reads.
Result<Pkcs11Uri> pkcs11_uri_of(const Uri& uri);

// A URI naming one token (by label, manufacturer, serial and model) and optionally one
// object in it (label and id), suitable for `hwca key ...` commands.
std::string token_uri(const std::string& label, const std::string& manufacturer,
                      const std::string& serial, const std::string& model);
std::string key_uri(const std::string& token_uri, const std::string& label, const std::string& id);

std::string hex(const std::string& bytes);

}  // namespace hwca::tokens::pkcs11
