// Base64 (RFC 4648, standard alphabet, padded) through OpenSSL's EVP encoder: kubeconfig
// *-data fields, later EST bodies.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hwca {

std::string base64_encode(std::string_view data);  // one line, no newline
// Whitespace (line breaks) is ignored; anything else that is not base64 gives nullopt.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace hwca
