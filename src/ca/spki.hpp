// A public key's identity: the SHA-256 of its SubjectPublicKeyInfo DER, as the issuance
// store records it for every certificate (spki_sha256). Two requests or certificates are for
// the same key exactly when their SubjectPublicKeyInfo DER is the same.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/ossl.hpp"

namespace hwca::ca {

// The SubjectPublicKeyInfo DER; empty if it cannot be encoded.
std::string spki_der(const X509_PUBKEY* spki);

// SHA-256 of the SubjectPublicKeyInfo DER, 64 lower-case hex digits; empty if it cannot be
// encoded.
std::string spki_sha256(const X509_PUBKEY* spki);

// The same for the key of a certificate given as DER; empty if the DER is not a certificate.
std::string spki_sha256_of_cert(const std::vector<uint8_t>& der);

}  // namespace hwca::ca
