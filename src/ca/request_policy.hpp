// What a profile lets through from a request. The certificate's subject and SANs are rebuilt
// from checked values; everything else the request asks for (key usages, other extensions,
// attributes) is ignored, except a request for CA:TRUE under a profile that is not a CA's,
// which is refused rather than silently dropped. Whatever the profile, a request is refused
// whose key Go's crypto/x509 would refuse in the certificate (EC keys with explicit curve
// parameters rather than a named curve, compressed points, RSA keys without NULL
// parameters or with public exponents other than 65537), or whose
// signature uses a digest weaker than SHA-256 (RSA-PSS judged by its hash).
#pragma once

#include <vector>

#include "ca/profile.hpp"
#include "ca/san.hpp"
#include "common/ossl.hpp"
#include "common/result.hpp"

namespace hwca::ca {

struct Approved {
  ossl::Ptr<X509_NAME> subject;
  std::vector<San> sans;
  std::vector<int> key_usage;  // the profile's, minus the RSA-only bits for other keys
  EVP_PKEY* key = nullptr;     // the request's public key (owned by the request)
};

// The request must already be parsed and its signature checked (csr.hpp).
Result<Approved> apply_profile(const Profile& profile, X509_REQ* req);

}  // namespace hwca::ca
