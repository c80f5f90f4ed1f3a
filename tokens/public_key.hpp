// Public keys built from the parts a device reports (a PKCS#11 token's attributes, a TPM's
// public area), as keys of OpenSSL's default provider.
#pragma once

#include <cstdint>
#include <span>

#include "common/ossl.hpp"

namespace hwca::tokens {

// RSA from its modulus and public exponent (big-endian bytes); null when OpenSSL refuses
// them (its error queue says why).
ossl::Ptr<EVP_PKEY> rsa_public_key(std::span<const uint8_t> n, std::span<const uint8_t> e);

// EC on a named group ("P-256", "prime256v1", ...) from an encoded point (0x04 || x || y);
// null when OpenSSL refuses them (the point not on the curve, ...).
ossl::Ptr<EVP_PKEY> ec_public_key(const char* group, std::span<const uint8_t> point);

}  // namespace hwca::tokens
