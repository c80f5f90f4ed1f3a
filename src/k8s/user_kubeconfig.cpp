#include "k8s/user_kubeconfig.hpp"

#include "ca/ca_init.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/issuer.hpp"
#include "ca/san.hpp"
#include "common/text.hpp"
#include "k8s/credential.hpp"
#include "k8s/kubeconfig.hpp"
#include "k8s/leaf_key.hpp"

namespace hwca::k8s {
namespace {

constexpr size_t kMaxNameLength = 256;  // a CN or O value (RFC 5280's upper bound is 64;
                                        // Kubernetes user names may be longer)

Status check_name(const std::string& value, const std::string& what) {
  if (value.empty()) return fail(ErrorKind::usage, what + " is empty");
  if (value.size() > kMaxNameLength || printable(value) != value) {
    return fail(ErrorKind::usage, what + " '" + printable(value) +
                                      "' is too long or holds control characters");
  }
  return {};
}

}  // namespace

Status check_user_request(const UserKubeconfigRequest& r) {
  if (auto ok = check_name(r.user, "--user"); !ok) return ok;
  for (const auto& g : r.groups) {
    if (auto ok = check_name(g, "--group"); !ok) return ok;
  }
  if (auto ok = check_name(r.cluster, "--cluster"); !ok) return ok;
  const std::string scheme = "https://";
  if (r.server.compare(0, scheme.size(), scheme) != 0) {
    return fail(ErrorKind::usage, "--server '" + printable(r.server) +
                                      "' is not an https:// URL (e.g. https://10.0.0.10:6443)");
  }
  std::string host = r.server.substr(scheme.size());
  host = host.substr(0, host.find('/'));
  if (!host.empty() && host.front() == '[') {
    host = host.substr(1, host.find(']') == std::string::npos ? 0 : host.find(']') - 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (!ca::parse_san("IP:" + host, {}) && !ca::parse_san("DNS:" + host, {})) {
    return fail(ErrorKind::usage, "--server '" + printable(r.server) + "' has no valid host");
  }
  return {};
}

Result<UserKubeconfig> issue_user_kubeconfig(const ca::Home& home, const ca::CryptoContext& crypto,
                                             ca::IssuanceStore& store,
                                             const UserKubeconfigRequest& r) {
  if (auto ok = check_user_request(r); !ok) return tl::unexpected(ok.error());
  auto issuer = ca::Issuer::open(home, crypto, store, r.ca, r.key_options);
  if (!issuer) return tl::unexpected(issuer.error());
  auto chain = chain_below_root(home, r.ca);
  if (!chain) return tl::unexpected(chain.error());
  auto key = generate_leaf_key(crypto.libctx(), r.key_type);
  if (!key) return tl::unexpected(key.error());
  auto csr = make_csr_der(crypto.libctx(), key->get(), r.user, r.groups, {});
  if (!csr) return tl::unexpected(csr.error());
  auto key_pem = private_key_pem(key->get());
  if (!key_pem) return tl::unexpected(key_pem.error());
  auto issued = (*issuer)->issue({*csr, "kubeconfig for " + r.user, "client", r.days,
                                  r.requester});
  if (!issued) return tl::unexpected(issued.error());
  Kubeconfig config;
  config.cluster = r.cluster;
  config.server = r.server;
  config.ca_pem = ca::cert_pem((*issuer)->ca_cert());
  config.user = r.user;
  config.cert_pem = ca::cert_pem(issued->cert.get()) + *chain;
  config.key_pem = std::move(*key_pem);
  UserKubeconfig out;
  out.text = render_kubeconfig(config);
  out.serial = issued->record.serial;
  out.not_after = issued->record.not_after;
  return out;
}

}  // namespace hwca::k8s
