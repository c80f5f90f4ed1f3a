// The TPM side of a key's type: the template hwca creates each type from, what a public
// area must hold to be a signing key hwca uses, its attributes by name, and its public key
// as an OpenSSL key.
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include <string>
#include <utility>
#include <vector>

#include "common/ossl.hpp"
#include "common/result.hpp"
#include "tokens/keystore.hpp"

namespace hwca::tokens::tpm2 {

// fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | sign (0x00040072): made
// inside this TPM and never leaves it, usable with its password (or none), signs only.
// create_key adds noDA (0x400) to a key without a password.
inline constexpr TPMA_OBJECT kSigningKeyAttributes =
    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;

// The template for a new key of `type`: nameAlg SHA-256, kSigningKeyAttributes, NULL
// scheme (the signer chooses ECDSA, RSASSA or RSAPSS and the hash per signature), RSA
// exponent 65537. rsa-4096 is built too: whether the TPM takes it is the TPM's answer.
TPM2B_PUBLIC key_template(KeyType type);

// The parameters of a template, for TPM2_TestParms (asks the TPM whether it supports the
// type before anything is created).
TPMT_PUBLIC_PARMS template_parms(const TPM2B_PUBLIC& tmpl);

// Refuse (usage) a public area hwca does not sign with: not RSA or ECC, not a signing key
// (sign clear, or restricted, or decrypt set: an attestation or storage key), or a curve
// other than P-256/P-384. `what` names the key in the message.
Status check_signing_key(const TPMT_PUBLIC& pub, const std::string& what);

// The public key of a TPM public area (RSA n and e, or the EC point), as a default-provider
// EVP_PKEY.
Result<ossl::Ptr<EVP_PKEY>> public_key_of(const TPMT_PUBLIC& pub);

// The object attributes by name, in the TPM spec's order: ("fixedTPM", true), ...
std::vector<std::pair<std::string, bool>> attribute_flags(TPMA_OBJECT attributes);

// The key's Name (nameAlg || H(public area)) in hex, as tpm2_readpublic prints it.
Result<std::string> key_name_hex(const TPM2B_PUBLIC& pub);

}  // namespace hwca::tokens::tpm2
