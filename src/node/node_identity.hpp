// What the node agent knows about its own identity: the kubelet key in the node's TPM (made
// there once, never exported), the requests it signs there, the checks on what comes back,
// and when to renew.
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "ca/crypto_context.hpp"
#include "common/ossl.hpp"
#include "common/result.hpp"
#include "tokens/keystore.hpp"
#include "tokens/tpm2/attestation.hpp"

namespace hwca::node {

// The key URI names: loaded if it exists, else made (ec-p256) in its store and loaded.
// `created` tells which.
Result<ossl::Ptr<EVP_PKEY>> load_or_create_key(const ca::CryptoContext& crypto,
                                               const std::string& uri,
                                               const tokens::OpenOptions& options, bool* created);

// A kubelet request: O=system:nodes, CN=system:node:<node>, SANs ("DNS:x", "IP:y") for a
// serving certificate, signed by `key` (in the TPM, through the provider). DER.
Result<std::string> node_request(OSSL_LIB_CTX* libctx, EVP_PKEY* key, const std::string& node,
                                 const std::vector<std::string>& sans);

// Refuse a certificate that is not for `key`, not for the node, not valid now, or does not
// chain to a CA of `ca_file` (PEM). The error says which.
Status check_issued(const X509* cert, const EVP_PKEY* key, const std::string& node,
                    const std::string& ca_file);

// Renewal is due once two thirds of the certificate's life have passed.
std::time_t renewal_time(const X509* cert);

Result<ossl::Ptr<X509>> read_certificate(const std::string& path);

// What identifies the node's TPM to the CA's registry (hwca node register): the EK
// certificate as PEM (or, without one, the EK's public key as PEM), and the SHA-256 of its
// SubjectPublicKeyInfo DER (in OpenSSL's encoding of the key) in lower-case hex, as the
// registry stores it and the CA computes it.
struct EkIdentity {
  std::string pem;
  bool certificate = false;  // pem is a certificate (else a public key)
  std::string spki_sha256;
};
Result<EkIdentity> ek_identity(const tokens::tpm2::EkInfo& ek);

}  // namespace hwca::node
