// The TPM's key derivation functions (TPM 2.0 Part 1, 11.4.10) and hashes by TPM algorithm
// identifier, computed with OpenSSL's default provider.
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace hwca::attest {

using Bytes = std::vector<uint8_t>;

// OpenSSL's name of a TPM hash ("SHA256"); nullptr for SHA-1 and anything not SHA-2.
const char* hash_name(TPMI_ALG_HASH alg);
// Its digest size in bytes; 0 when hash_name is nullptr.
size_t hash_size(TPMI_ALG_HASH alg);

Result<Bytes> digest(TPMI_ALG_HASH alg, std::span<const uint8_t> data);
Result<Bytes> hmac(TPMI_ALG_HASH alg, std::span<const uint8_t> key, std::span<const uint8_t> data);

// KDFa (SP 800-108 counter mode with HMAC): for i = 1, 2...
// HMAC(key, u32(i) || label || 0x00 || context_u || context_v || u32(bits)), truncated to
// bits (a multiple of 8).
Result<Bytes> kdfa(TPMI_ALG_HASH alg, std::span<const uint8_t> key, std::string_view label,
                   std::span<const uint8_t> context_u, std::span<const uint8_t> context_v,
                   size_t bits);

// KDFe (SP 800-56A concatenation): for i = 1, 2...
// H(u32(i) || z || label || 0x00 || party_u || party_v), truncated to bits.
Result<Bytes> kdfe(TPMI_ALG_HASH alg, std::span<const uint8_t> z, std::string_view label,
                   std::span<const uint8_t> party_u, std::span<const uint8_t> party_v, size_t bits);

}  // namespace hwca::attest
