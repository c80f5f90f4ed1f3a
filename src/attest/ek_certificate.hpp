// Endorsement key (EK) certificates as TPM makers ship them in NV (TCG EK Credential
// Profile), their public keys, the registry's key for an EK, and their chains to the EK
// roots an operator trusts ('hwca ek-roots add').
//
// What parse_ek_certificate tolerates, and only that (what real vendors' NV blobs hold):
//   - PEM ("-----BEGIN CERTIFICATE-----", leading whitespace allowed) or DER;
//   - DER behind the TCG PC Client NV header `10 01 00 LL LL` (LL LL: the big-endian length
//     of the certificate that follows; bytes past it are dropped);
//   - padding after the DER SEQUENCE: any number of bytes, each 0x00 or 0xFF (NV areas
//     larger than the certificate). Any other byte after it is refused.
//   - encodings OpenSSL 3's decoder takes: it keeps the signed bytes as they came (so a SET
//     of a name in the wrong DER order, as some Nuvoton parts ship, still verifies).
// Refused: anything that is not one X.509 certificate after the above, a length that runs
// past the bytes, and INTEGERs that are not minimally encoded (a serial padded with 00, as
// some STMicro parts ship): OpenSSL 3's d2i_X509 refuses them ("illegal padding") and a
// re-encoded serial would no longer match the signature. Register such a TPM by its public
// key instead (--ek-pub: 'tpm2_createek -f pem' or 'hwca-node ek show').
//
// verify_ek_chain's choices: the EK certificate's critical subjectAltName (a directoryName of
// TCG attributes: manufacturer, model, version) and its EKU (2.23.133.8.1) are accepted as
// OpenSSL takes them, with no purpose set. Validity dates are not checked (many EK
// certificates say notAfter 9999-12-31, some vendor intermediates have long expired while
// their TPMs are in service): an EK certificate proves where a TPM was made, once, and the
// registration is the operator's decision at that moment. Signatures, CA flags and path
// lengths are checked; revocation is not (TPM makers publish no usable CRLs for EKs).
#pragma once

#include <openssl/x509.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/ossl.hpp"
#include "common/result.hpp"

namespace hwca::attest {

// One EK certificate from PEM or DER (with the tolerance above); ErrorKind::usage with one
// line naming what is wrong.
Result<ossl::Ptr<X509>> parse_ek_certificate(std::span<const uint8_t> bytes);

// A public key from PEM ("PUBLIC KEY", a SubjectPublicKeyInfo) or SubjectPublicKeyInfo DER
// (nothing after it); ErrorKind::usage otherwise.
Result<ossl::Ptr<EVP_PKEY>> parse_ek_public_key(std::span<const uint8_t> bytes);

// The SubjectPublicKeyInfo DER of a key; empty if it cannot be encoded.
std::vector<uint8_t> ek_spki_der(EVP_PKEY* key);

// The registry's key for an EK: SHA-256 of its SubjectPublicKeyInfo DER, 64 lower-case hex
// digits (the same as ca::spki_sha256 for the same key); empty if it cannot be encoded.
std::string ek_spki_sha256(EVP_PKEY* key);

// Whether `ek` chains to one of `anchors` (trusted as they are; self-signed), through
// `intermediates` (untrusted, used only to build the path). ErrorKind::auth naming OpenSSL's
// reason (X509_verify_cert_error_string) and the certificate it stopped at.
Status verify_ek_chain(X509* ek, const std::vector<X509*>& anchors,
                       const std::vector<X509*>& intermediates);

}  // namespace hwca::attest
