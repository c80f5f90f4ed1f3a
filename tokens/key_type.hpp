// The key types hwca makes in a device ("ec-p256", "rsa-3072", ...), apart from the key-store
// interface: layers that only name a key type (the Kubernetes PKI's leafKeyType) include this
// alone.
#pragma once

#include <openssl/types.h>

#include <string>
#include <string_view>

#include "common/result.hpp"

namespace hwca::tokens {

enum class KeyType { ec_p256, ec_p384, rsa_2048, rsa_3072, rsa_4096 };

Result<KeyType> parse_key_type(std::string_view name);  // "ec-p256", "rsa-3072", ...
const char* key_type_name(KeyType type);
bool is_rsa(KeyType type);
int key_bits(KeyType type);

// The type name of a public key as in KeyInfo::type ("rsa-1024" for a key hwca would not
// make).
std::string key_type_of(const EVP_PKEY* pkey);

}  // namespace hwca::tokens
