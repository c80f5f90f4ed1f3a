#include "tokens/key_type.hpp"

#include <openssl/evp.h>

namespace hwca::tokens {

Result<KeyType> parse_key_type(std::string_view name) {
  if (name == "ec-p256") return KeyType::ec_p256;
  if (name == "ec-p384") return KeyType::ec_p384;
  if (name == "rsa-2048") return KeyType::rsa_2048;
  if (name == "rsa-3072") return KeyType::rsa_3072;
  if (name == "rsa-4096") return KeyType::rsa_4096;
  return fail(ErrorKind::usage,
              "unknown key type '" + std::string(name) +
                  "' (expected ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096)");
}

const char* key_type_name(KeyType type) {
  switch (type) {
    case KeyType::ec_p256:
      return "ec-p256";
    case KeyType::ec_p384:
      return "ec-p384";
    case KeyType::rsa_2048:
      return "rsa-2048";
    case KeyType::rsa_3072:
      return "rsa-3072";
    case KeyType::rsa_4096:
      return "rsa-4096";
  }
  return "unknown";
}

bool is_rsa(KeyType type) { return type != KeyType::ec_p256 && type != KeyType::ec_p384; }

int key_bits(KeyType type) {
  switch (type) {
    case KeyType::ec_p256:
      return 256;
    case KeyType::ec_p384:
      return 384;
    case KeyType::rsa_2048:
      return 2048;
    case KeyType::rsa_3072:
      return 3072;
    case KeyType::rsa_4096:
      return 4096;
  }
  return 0;
}

std::string key_type_of(const EVP_PKEY* pkey) {
  int bits = EVP_PKEY_get_bits(pkey);
  if (EVP_PKEY_is_a(pkey, "RSA")) return "rsa-" + std::to_string(bits);
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, "group", group, sizeof group, &len) == 1) {
      std::string g(group, len);
      if (g == "prime256v1" || g == "P-256") return "ec-p256";
      if (g == "secp384r1" || g == "P-384") return "ec-p384";
      return "ec-" + g;
    }
    return "ec-" + std::to_string(bits);
  }
  return "unknown";
}

}  // namespace hwca::tokens
