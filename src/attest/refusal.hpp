// Why a piece of TPM attestation evidence was refused: one reason (a stable name for the
// audit log and metrics) and one line of text for the operator.
#pragma once

#include <string>
#include <tl/expected.hpp>
#include <utility>

namespace hwca::attest {

enum class Reason {
  malformed,                  // the bytes do not decode as the TPM structure
  trailing_bytes,             // bytes left after the structure
  unsupported_key,            // key type, curve, RSA size, exponent or nameAlg not allowed
  not_sign,                   // sign attribute clear
  not_restricted,             // an attestation key without restricted
  restricted,                 // a certified key with restricted
  not_fixed_tpm,              // fixedTPM clear: the key may leave this TPM
  not_fixed_parent,           // fixedParent clear: the key may be duplicated
  not_sensitive_data_origin,  // sensitiveDataOrigin clear: the key was imported
  decrypt,                    // decrypt set on a signing key
  bad_magic,                  // TPMS_ATTEST.magic is not TPM_GENERATED_VALUE
  bad_type,                   // TPMS_ATTEST.type is not TPM_ST_ATTEST_CERTIFY
  extra_data_mismatch,        // extraData differs from the expected value
  unsupported_signature,      // signature scheme or hash not allowed, or not the AK's type
  bad_signature,              // the signature does not verify with the AK
  name_mismatch,              // the certified name is not Name(key)
};

// "not_fixed_tpm": the name used in audit records.
const char* reason_name(Reason reason);

struct Refusal {
  Reason reason = Reason::malformed;
  std::string message;  // one line: what was refused and why; never key material
};

template <typename T>
using Checked = tl::expected<T, Refusal>;
using Check = tl::expected<void, Refusal>;

inline tl::unexpected<Refusal> refuse(Reason reason, std::string message) {
  return tl::unexpected<Refusal>(Refusal{reason, std::move(message)});
}

}  // namespace hwca::attest
