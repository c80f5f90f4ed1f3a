// Subject alternative names: the four kinds hwca issues, checked for syntax and rebuilt from
// their checked text. Nothing of a request's own encoding is ever copied into a certificate.
#pragma once

#include <openssl/x509v3.h>

#include <optional>
#include <string>
#include <vector>

#include "common/ossl.hpp"
#include "common/result.hpp"

namespace hwca::ca {

enum class SanType { dns, ip, email, uri };

struct San {
  SanType type = SanType::dns;
  std::string value;  // "a.example", "10.0.0.1" / "2001:db8::1", "a@b.example", "spiffe://x/y"

  std::string text() const;  // "DNS:a.example", "IP:10.0.0.1", "email:...", "URI:..."
  bool operator==(const San&) const = default;
};

// An IPv4 or IPv6 address in inet_ntop's canonical form ("fd00::5"); nullopt if `text` is
// not one (no prefix length, no zone). An IPv4-mapped IPv6 address stays IPv6.
std::optional<std::string> canonical_ip(const std::string& text);

// Each address in canonical text, in the order given, without repeats: a node's addresses
// as given with --ip. A usage error names the first that is not an address, as `what` 'x'.
Result<std::vector<std::string>> canonical_ips(const std::vector<std::string>& ips,
                                               const std::string& what = "--ip");

// A certificate's SANs as text ("DNS:x", "IP:10.0.0.5"), in order; "?" for one hwca does not
// take.
std::vector<std::string> certificate_sans(const X509* cert);

// "dns", "ip", "email", "uri" (as profiles name them).
const char* san_type_name(SanType type);
Result<SanType> parse_san_type(const std::string& name);

struct SanRules {
  bool allow_wildcard = false;  // "*.a.example" (one leading label only)
};

// Check one name taken from a request. The error says which name and why.
Result<San> san_from_general_name(const GENERAL_NAME* name, const SanRules& rules);

// Check a name given as text ("DNS:a.example", "IP:10.0.0.1", "email:x@y", "URI:...").
Result<San> parse_san(const std::string& text, const SanRules& rules);

// The GENERAL_NAMES for a list of checked names, in order.
Result<GENERAL_NAMES*> to_general_names(const std::vector<San>& sans);

}  // namespace hwca::ca
