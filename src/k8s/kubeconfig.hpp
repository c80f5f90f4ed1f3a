// Kubeconfig files as kubeadm writes them: one cluster, one user with an embedded client
// certificate and key, one context "<user>@<cluster>" that is the current one. The *-data
// fields hold base64 of PEM.
#pragma once

#include <string>

#include "common/result.hpp"
#include "common/secure_string.hpp"

namespace hwca::k8s {

struct Kubeconfig {
  std::string cluster;  // cluster name ("kubernetes")
  std::string server;   // "https://10.0.0.10:6443"
  std::string ca_pem;   // the CA(s) the server certificate chains to
  std::string user;     // the certificate's CN
  std::string cert_pem;  // client certificate (then its intermediates, if any)
  SecureString key_pem;  // client key
};

// The file's text (it holds a private key: write it 0600).
SecureString render_kubeconfig(const Kubeconfig& config);

// Read the current context's cluster and user back; `source` names the file in errors.
Result<Kubeconfig> parse_kubeconfig(std::string_view text, const std::string& source);

}  // namespace hwca::k8s
