// The service-account key pair (pki/sa.key, pki/sa.pub): the apiserver checks, and the
// controller-manager signs, service-account tokens with it. Every control-plane node needs
// the same pair, and it is never renewed: a new key invalidates every token.
#pragma once

#include <optional>
#include <string>

#include "common/ossl.hpp"
#include "common/result.hpp"
#include "common/secure_string.hpp"
#include "k8s/cluster.hpp"
#include "k8s/output_tree.hpp"

namespace hwca::k8s {

struct ServiceAccount {
  SecureString key_pem;  // PKCS#8
  std::string pub_pem;   // SubjectPublicKeyInfo
};

// The key already on the control-plane nodes of `tree` (every copy must be the same key:
// ErrorKind::conflict otherwise), or nullopt when none has one.
Result<std::optional<SecureString>> existing_service_account_key(const OutputTree& tree,
                                                                 const Cluster& cluster);

// The pair for that key, or for a new RSA-2048 key (kubeadm's default) when there is none.
Result<ServiceAccount> service_account_pair(std::optional<SecureString> pem, OSSL_LIB_CTX* libctx);

}  // namespace hwca::k8s
