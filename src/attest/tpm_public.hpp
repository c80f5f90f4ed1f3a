// A TPM object's public area (TPM2B_PUBLIC) as a verifier sees it: decoded with tss2-mu,
// its Name, its public key as an OpenSSL key, and the attribute checks that tell an
// attestation key and a key fit for a certificate from anything else.
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include <cstdint>
#include <span>

#include "attest/refusal.hpp"
#include "attest/tpm_crypto.hpp"
#include "common/ossl.hpp"

namespace hwca::attest {

// Object attribute bits (TPM 2.0 Part 2, TPMA_OBJECT).
inline constexpr uint32_t kFixedTpm = TPMA_OBJECT_FIXEDTPM;                        // 0x2
inline constexpr uint32_t kFixedParent = TPMA_OBJECT_FIXEDPARENT;                  // 0x10
inline constexpr uint32_t kSensitiveDataOrigin = TPMA_OBJECT_SENSITIVEDATAORIGIN;  // 0x20
inline constexpr uint32_t kRestricted = TPMA_OBJECT_RESTRICTED;                    // 0x10000
inline constexpr uint32_t kDecrypt = TPMA_OBJECT_DECRYPT;                          // 0x20000
inline constexpr uint32_t kSign = TPMA_OBJECT_SIGN_ENCRYPT;                        // 0x40000

struct TpmPublic {
  TPMT_PUBLIC area{};
  Bytes name;  // nameAlg (u16) || H_nameAlg(marshalled TPMT_PUBLIC)
};

// Decodes a TPM2B_PUBLIC. Refused: bytes that do not decode (malformed), bytes after it
// (trailing_bytes), a nameAlg other than SHA-256/384/512 (unsupported_key), and an encoding
// that does not marshal back to the same bytes (malformed: the Name would be ambiguous).
Checked<TpmPublic> parse_public(std::span<const uint8_t> tpm2b_public);

// The marshalled TPMT_PUBLIC (the TPM2B_PUBLIC without its size), or nullopt-like error.
Result<Bytes> marshal_area(const TPMT_PUBLIC& area);
// Name of a public area: nameAlg || H_nameAlg(marshalled area).
Checked<Bytes> name_of(const TPMT_PUBLIC& area);
// The TPM2B_PUBLIC bytes of an area (tests, and to hand one on).
Result<Bytes> marshal_public(const TPMT_PUBLIC& area);

// The public key: RSA of 2048, 3072 or 4096 bits (exponent 0 is 65537), or ECC on NIST
// P-256 or P-384. Anything else is unsupported_key; a point off the curve is malformed.
Checked<ossl::Ptr<EVP_PKEY>> public_key(const TPMT_PUBLIC& area);

// An attestation key (AK): sign, restricted, fixedTPM, fixedParent, sensitiveDataOrigin,
// not decrypt, and a supported key. The first failing check is the reason.
Check is_attestation_key(const TPMT_PUBLIC& area);

// A key a certificate may be issued for: sign, fixedTPM, fixedParent, sensitiveDataOrigin,
// not restricted, not decrypt, and a supported key.
Check is_certifiable_key(const TPMT_PUBLIC& area);

// The same checks, giving the key they built (public_key) to the caller, which then need
// not build it again.
Checked<ossl::Ptr<EVP_PKEY>> attestation_key(const TPMT_PUBLIC& area);
Checked<ossl::Ptr<EVP_PKEY>> certifiable_key(const TPMT_PUBLIC& area);

}  // namespace hwca::attest
