// TPM2_MakeCredential computed in software (TPM 2.0 Part 1, 24 "Credential Protection";
// Part 3, 12.6): the CA wraps a secret so that only the TPM holding the endorsement key
// (EK), and only for the object of the given Name (the AK), can recover it with
// TPM2_ActivateCredential.
#pragma once

#include <openssl/x509.h>
#include <tss2/tss2_tpm2_types.h>

#include <optional>
#include <span>

#include "attest/refusal.hpp"
#include "attest/tpm_crypto.hpp"
#include "attest/tpm_public.hpp"
#include "common/ossl.hpp"

namespace hwca::attest {

// An EK as MakeCredential needs it: its public key, its nameAlg (the hash of the seed, the
// KDFs and the HMAC) and the key size of its symmetric algorithm (AES-CFB).
struct EkPublic {
  ossl::Ptr<EVP_PKEY> key;
  TPMI_ALG_HASH name_alg = TPM2_ALG_SHA256;
  uint16_t aes_bits = 128;
};

// From the EK's TPM2B_PUBLIC: nameAlg and symmetric as the TPM reports them. Refused
// (unsupported_key) unless restricted|decrypt with AES-CFB, RSA-2048/3072 or ECC P-256/384.
Checked<EkPublic> ek_from_public(const TpmPublic& ek);

// From an EK certificate's (or any) public key, assuming the TCG EK Credential Profile
// template of its kind: RSA-2048 (L-1/H-1) and ECC P-256 (L-2/H-2): SHA-256 and AES-128;
// RSA-3072 (H-6) and ECC P-384 (H-3): SHA-384 and AES-256. Others are unsupported_key.
Checked<EkPublic> ek_from_key(EVP_PKEY* key);
Checked<EkPublic> ek_from_certificate(X509* cert);

struct Credential {
  Bytes id_object;         // TPM2B_ID_OBJECT, marshalled (credentialBlob)
  Bytes encrypted_secret;  // TPM2B_ENCRYPTED_SECRET, marshalled (secret)
};

// For tests only: a fixed seed (RSA EKs) or ephemeral key (ECC EKs) in place of fresh ones.
struct MakeCredentialOptions {
  std::optional<Bytes> seed;
  EVP_PKEY* ephemeral = nullptr;
};

// The credential blob (TPM2B_ID_OBJECT, marshalled) from the seed: the part of
// MakeCredential after the seed's protection, shared by RSA and ECC EKs.
Result<Bytes> credential_blob(const EkPublic& ek, std::span<const uint8_t> seed,
                              std::span<const uint8_t> object_name,
                              std::span<const uint8_t> credential);

// MakeCredential(EK, object name, credential). credential: 1 to digest-size-of-nameAlg
// bytes; object_name: a TPM Name (alg || digest). ErrorKind::usage for bad sizes,
// internal when OpenSSL fails.
Result<Credential> make_credential(const EkPublic& ek, std::span<const uint8_t> object_name,
                                   std::span<const uint8_t> credential,
                                   const MakeCredentialOptions& options = {});

}  // namespace hwca::attest
