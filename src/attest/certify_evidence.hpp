// Checking TPM2_Certify evidence without a TPM: a TPMS_ATTEST of type CERTIFY, signed by an
// attestation key (AK), that names the certified key and carries the verifier's expected
// qualifying data (extraData).
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include <span>

#include "attest/refusal.hpp"
#include "attest/tpm_public.hpp"

namespace hwca::attest {

// Decodes a TPMS_ATTEST (no trailing bytes, magic TPM_GENERATED_VALUE, type
// TPM_ST_ATTEST_CERTIFY). Its clock, reset and restart counts and firmware version are
// not checked: outside the endorsement hierarchy the TPM obfuscates them.
Checked<TPMS_ATTEST> parse_certify_attest(std::span<const uint8_t> attest);

// Verifies a marshalled TPMT_SIGNATURE over the TPMS_ATTEST bytes with the AK's public
// key: ECDSA (ECC AK) or RSASSA-PKCS1-v1_5 (RSA AK), hash SHA-256 or SHA-384.
Check verify_attest_signature(std::span<const uint8_t> attest, std::span<const uint8_t> signature,
                              const TpmPublic& ak);

// The whole check, in this order: attest decodes (magic, type, no trailing bytes); the
// signature decodes, is of an allowed scheme and verifies with the AK; extraData equals
// expected_extra_data; the certified name equals key.name. The AK and key attribute
// checks (is_attestation_key, is_certifiable_key) are the caller's.
Check verify_certify(std::span<const uint8_t> attest, std::span<const uint8_t> signature,
                     const TpmPublic& ak, const TpmPublic& key,
                     std::span<const uint8_t> expected_extra_data);
// The same with the AK's key already built (attestation_key()).
Check verify_certify(std::span<const uint8_t> attest, std::span<const uint8_t> signature,
                     const TpmPublic& ak, EVP_PKEY* ak_key, const TpmPublic& key,
                     std::span<const uint8_t> expected_extra_data);

}  // namespace hwca::attest
