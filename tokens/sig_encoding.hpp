// Encodings every backend needs around a raw device signature (OpenSSL ASN.1, no hand DER).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace hwca::tokens {

// r||s (each half the same length) -> DER ECDSA-Sig-Value.
Result<std::vector<uint8_t>> ecdsa_raw_to_der(std::span<const uint8_t> raw);
Result<std::vector<uint8_t>> ecdsa_rs_to_der(std::span<const uint8_t> r,
                                             std::span<const uint8_t> s);

// DER DigestInfo (RFC 8017 9.2) for PKCS#1 v1.5 signing of a pre-computed hash.
Result<std::vector<uint8_t>> digest_info(const std::string& digest, std::span<const uint8_t> hash);

// Size in bytes of a digest by OpenSSL name ("SHA256" -> 32), 0 for unsupported names.
// Only SHA-256, SHA-384 and SHA-512 are accepted for signing.
size_t signing_digest_size(const std::string& digest);

}  // namespace hwca::tokens
