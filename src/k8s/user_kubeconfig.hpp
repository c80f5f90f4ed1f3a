// `hwca k8s kubeconfig`: a client certificate and kubeconfig for one person or component
// (CN = user name, O = groups), issued by a CA of the home under the client profile.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "ca/crypto_context.hpp"
#include "ca/home.hpp"
#include "ca/issuance_store.hpp"
#include "common/result.hpp"
#include "common/secure_string.hpp"
#include "tokens/key_type.hpp"

namespace hwca::k8s {

struct UserKubeconfigRequest {
  std::string ca;    // the issuing CA; its certificate becomes certificate-authority-data
  std::string user;  // CN
  std::vector<std::string> groups;  // O
  std::string server;               // https://host[:port]
  std::string cluster = "kubernetes";
  tokens::KeyType key_type = tokens::KeyType::ec_p256;
  std::optional<int> days;  // default: the client profile's
  std::string requester;
  tokens::OpenOptions key_options;
};

struct UserKubeconfig {
  SecureString text;   // the kubeconfig (holds the key: write it 0600)
  std::string serial;  // of the certificate, as the database has it
  std::time_t not_after = 0;
};

// Check the request's text (user, groups, server URL, cluster name) before the token.
Status check_user_request(const UserKubeconfigRequest& request);

Result<UserKubeconfig> issue_user_kubeconfig(const ca::Home& home, const ca::CryptoContext& crypto,
                                             ca::IssuanceStore& store,
                                             const UserKubeconfigRequest& request);

}  // namespace hwca::k8s
