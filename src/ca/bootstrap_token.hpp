// Bootstrap token text: "<id>.<secret>", the id 6 and the secret 32 characters of [a-z0-9]
// (about 165 bits), drawn from OpenSSL's RAND_bytes without modulo bias. The id is public
// (listings, audit, revoke); the whole text is the secret a node sends as its HTTP Basic
// password, with its node name as the user.
#pragma once

#include <string>
#include <string_view>

#include "ca/node_registry.hpp"
#include "common/result.hpp"

namespace hwca::ca {

inline constexpr size_t kTokenIdLength = 6;
inline constexpr size_t kTokenSecretLength = 32;

struct TokenText {
  std::string id;
  std::string text;  // the whole token; wiped by the caller when done (it is a secret)
};

Result<TokenText> make_bootstrap_token();

// The id of a well-formed token text; usage error (never echoing the text) otherwise.
Result<std::string> bootstrap_token_id(std::string_view text);

// SHA-256 of the whole token text.
Sha256 bootstrap_token_hash(std::string_view text);

// A Kubernetes node name: an RFC 1123 DNS subdomain (lower-case letters, digits, '-' and
// '.', labels of 1-63 starting and ending with a letter or digit, at most 253 in all).
bool valid_node_name(std::string_view name);

}  // namespace hwca::ca
