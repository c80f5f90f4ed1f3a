// A node's existing credential for one planned certificate (a .crt/.key pair, or the
// certificate and key inside a kubeconfig), and whether it can stay.
#pragma once

#include <ctime>
#include <optional>
#include <string>

#include "ca/home.hpp"
#include "ca/profile.hpp"
#include "common/ossl.hpp"
#include "common/result.hpp"
#include "common/secure_string.hpp"
#include "k8s/kubeconfig.hpp"
#include "k8s/plan.hpp"
#include "tokens/key_type.hpp"

namespace hwca::k8s {

struct Credential {
  ossl::Ptr<X509> cert;      // the leaf (the first certificate of the file)
  std::string cert_pem;      // the leaf and any intermediates, as they are in the file
  ossl::Ptr<EVP_PKEY> key;
  SecureString key_pem;
  bool as_rendered = false;  // a kubeconfig that is exactly the text hwca would write now
};

// What follows a leaf of CA `ca` in its file: the CA and the CAs above it, but not the root
// (empty when `ca` is a root). Its pki/ca.crt holds `ca` alone: the trust anchor, so that
// CAs under one root do not vouch for each other's certificates.
Result<std::string> chain_below_root(const ca::Home& home, const std::string& ca);

// The first certificate of PEM text; `source` names it in errors.
Result<ossl::Ptr<X509>> first_certificate(std::string_view pem, const std::string& source);

// The certificate of a .crt file or of a kubeconfig (by its name: *.conf).
Result<ossl::Ptr<X509>> read_certificate_file(const std::string& path);

// The credential in `node_dir` for `planned`. ErrorKind::not_found when it is missing; any
// other error says why it cannot be used. For a kubeconfig, `frame` (when given) is what its
// cluster, server, CA and user should be: a file that is render_kubeconfig's text for them
// and its own certificate and key is read without a YAML parser, and marked as_rendered.
Result<Credential> read_credential(const std::string& node_dir, const PlannedCert& planned,
                                   const Kubeconfig* frame = nullptr);

// Why `existing` must be replaced (it does not match the plan, the CA `ca` did not issue it,
// it has expired, ...), or nullopt when it can stay.
std::optional<std::string> replace_reason(const Credential& existing, const PlannedCert& planned,
                                          const ca::Profile& profile, const X509* ca,
                                          tokens::KeyType key_type, std::time_t now);

}  // namespace hwca::k8s
