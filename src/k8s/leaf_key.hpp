// Keys the cluster's components hold themselves (leaf keys, the service-account key): made
// on this host with OpenSSL's default provider, written PEM (PKCS#8) with mode 0600. Only
// the CA keys stay in the token.
#pragma once

#include <string>
#include <vector>

#include "common/ossl.hpp"
#include "common/result.hpp"
#include "common/secure_string.hpp"
#include "tokens/key_type.hpp"

namespace hwca::k8s {

Result<ossl::Ptr<EVP_PKEY>> generate_leaf_key(OSSL_LIB_CTX* libctx, tokens::KeyType type);

// A PKCS#10 request (DER) for the key: subject O=<groups>..., CN=<common_name> (Go's order,
// as kubeadm writes it) and the SANs ("DNS:x", "IP:y") in a subjectAltName extension.
Result<std::string> make_csr_der(OSSL_LIB_CTX* libctx, EVP_PKEY* key,
                                 const std::string& common_name,
                                 const std::vector<std::string>& groups,
                                 const std::vector<std::string>& sans);

Result<SecureString> private_key_pem(EVP_PKEY* key);  // "PRIVATE KEY" (PKCS#8, unencrypted)

// A PEM private key (PKCS#8 or traditional), never asking for a passphrase: an encrypted
// key is refused. `source` names it in errors.
Result<ossl::Ptr<EVP_PKEY>> parse_private_key(std::string_view pem, const std::string& source);

// The key type of a public or private key, if it is one hwca makes.
Result<tokens::KeyType> key_type_of(const EVP_PKEY* key);

}  // namespace hwca::k8s
