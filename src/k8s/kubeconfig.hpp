// Kubeconfig files as kubeadm writes them: one cluster, one user with an embedded client
// certificate and key, one context "<user>@<cluster>" that is the current one. The *-data
// fields hold base64 of PEM.
#pragma once

#include <optional>
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

// `frame` (cluster, server, CA and user as they should be) completed with the client
// certificate and key of `text`, when `text` is exactly what render_kubeconfig makes of that:
// the file hwca would write now, read without a YAML parser (a re-run of `hwca k8s certs`
// reads a kubeconfig a node; yaml-cpp takes 2.4 M instructions for one). Nothing otherwise
// (another layout, other values): parse_kubeconfig then reads the file.
std::optional<Kubeconfig> match_rendered(std::string_view text, const Kubeconfig& frame);

}  // namespace hwca::k8s
