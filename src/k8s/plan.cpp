#include "k8s/plan.hpp"

#include <algorithm>

#include "ca/san.hpp"

namespace hwca::k8s {
namespace {

// kubeadm's groups (v1.29+).
constexpr const char* kClusterAdmins = "kubeadm:cluster-admins";
constexpr const char* kMasters = "system:masters";
constexpr const char* kNodes = "system:nodes";

void add_san(std::vector<std::string>& sans, const std::string& text) {
  // Canonical text, so that "IP:::1" and "IP:0:0::1" are one name; DNS names compare
  // without case.
  auto san = ca::parse_san(text, {});
  std::string canonical = san ? san->text() : text;
  auto same = [&](const std::string& s) {
    return s.size() == canonical.size() &&
           std::equal(s.begin(), s.end(), canonical.begin(),
                      [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  };
  if (std::none_of(sans.begin(), sans.end(), same)) sans.push_back(canonical);
}

std::string host_san(const std::string& host) {
  return (ca::parse_san("IP:" + host, {}) ? "IP:" : "DNS:") + host;
}

PlannedCert cert(const Node& node, const std::string& name, CaRole ca, const std::string& profile,
                 const std::string& cn, std::vector<std::string> groups, const std::string& path) {
  PlannedCert c;
  c.node = node.name;
  c.name = name;
  c.ca = ca;
  c.profile = profile;
  c.common_name = cn;
  c.groups = std::move(groups);
  c.path = path;
  return c;
}

PlannedCert kubeconfig(const Node& node, const std::string& name, const std::string& cn,
                       std::vector<std::string> groups, const std::string& server) {
  PlannedCert c = cert(node, name, CaRole::kubernetes, "client", cn, std::move(groups), name);
  c.kubeconfig = true;
  c.server = server;
  return c;
}

}  // namespace

const char* ca_role_name(CaRole role) {
  switch (role) {
    case CaRole::kubernetes: return "ca";
    case CaRole::etcd: return "etcd-ca";
    case CaRole::front_proxy: return "front-proxy-ca";
  }
  return "?";
}

const char* ca_role_file(CaRole role) {
  switch (role) {
    case CaRole::kubernetes: return "pki/ca.crt";
    case CaRole::etcd: return "pki/etcd/ca.crt";
    case CaRole::front_proxy: return "pki/front-proxy-ca.crt";
  }
  return "?";
}

const std::string& ca_name_for(const Cluster& cluster, CaRole role) {
  switch (role) {
    case CaRole::etcd: return cluster.etcd_ca;
    case CaRole::front_proxy: return cluster.front_proxy_ca;
    case CaRole::kubernetes: break;
  }
  return cluster.kubernetes_ca;
}

const std::vector<CertificateFile>& certificate_files() {
  static const std::vector<CertificateFile> files = {
      {"apiserver", "pki/apiserver.crt", CaRole::kubernetes},
      {"apiserver-kubelet-client", "pki/apiserver-kubelet-client.crt", CaRole::kubernetes},
      {"apiserver-etcd-client", "pki/apiserver-etcd-client.crt", CaRole::etcd},
      {"front-proxy-client", "pki/front-proxy-client.crt", CaRole::front_proxy},
      {"etcd-server", "pki/etcd/server.crt", CaRole::etcd},
      {"etcd-peer", "pki/etcd/peer.crt", CaRole::etcd},
      {"etcd-healthcheck-client", "pki/etcd/healthcheck-client.crt", CaRole::etcd},
      {"admin.conf", "admin.conf", CaRole::kubernetes},
      {"super-admin.conf", "super-admin.conf", CaRole::kubernetes},
      {"controller-manager.conf", "controller-manager.conf", CaRole::kubernetes},
      {"scheduler.conf", "scheduler.conf", CaRole::kubernetes},
      {"kubelet.conf", "kubelet.conf", CaRole::kubernetes}};
  return files;
}

std::vector<std::string> certificate_names() {
  std::vector<std::string> out;
  for (const auto& f : certificate_files()) out.push_back(f.name);
  return out;
}

Result<std::vector<PlannedCert>> plan_certs(const Cluster& cluster) {
  auto service_ip = first_service_ip(cluster.service_subnet);
  if (!service_ip) return tl::unexpected(service_ip.error());
  const std::string endpoint = server_url(cluster.endpoint_host, cluster.endpoint_port);
  std::vector<PlannedCert> out;
  for (const Node& node : cluster.nodes) {
    if (node.role == Role::worker) {
      out.push_back(kubeconfig(node, "kubelet.conf", "system:node:" + node.name, {kNodes},
                               endpoint));
      continue;
    }
    // The apiserver: the node's name, the in-cluster service names, the service IP, the
    // node's addresses (the first is the advertise address), the endpoint, the extras.
    PlannedCert api = cert(node, "apiserver", CaRole::kubernetes, "server", "kube-apiserver", {},
                           "pki/apiserver");
    const std::string svc = "kubernetes.default.svc";
    for (const std::string& dns : {node.name, std::string("kubernetes"),
                                   std::string("kubernetes.default"), svc,
                                   svc + "." + cluster.dns_domain}) {
      add_san(api.sans, "DNS:" + dns);
    }
    add_san(api.sans, "IP:" + *service_ip);
    for (const auto& a : node.addresses) add_san(api.sans, "IP:" + a);
    add_san(api.sans, host_san(cluster.endpoint_host));
    for (const auto& s : cluster.cert_sans) add_san(api.sans, s);
    out.push_back(std::move(api));

    out.push_back(cert(node, "apiserver-kubelet-client", CaRole::kubernetes, "client",
                       "kube-apiserver-kubelet-client", {kClusterAdmins},
                       "pki/apiserver-kubelet-client"));
    out.push_back(cert(node, "apiserver-etcd-client", CaRole::etcd, "client",
                       "kube-apiserver-etcd-client", {}, "pki/apiserver-etcd-client"));
    out.push_back(cert(node, "front-proxy-client", CaRole::front_proxy, "client",
                       "front-proxy-client", {}, "pki/front-proxy-client"));

    // etcd's server and peer certificates: the node's name and localhost, its addresses
    // and the loopback ones.
    std::vector<std::string> etcd_sans;
    add_san(etcd_sans, "DNS:" + node.name);
    add_san(etcd_sans, "DNS:localhost");
    for (const auto& a : node.addresses) add_san(etcd_sans, "IP:" + a);
    add_san(etcd_sans, "IP:127.0.0.1");
    add_san(etcd_sans, "IP:::1");
    for (const char* which : {"server", "peer"}) {
      PlannedCert e = cert(node, std::string("etcd-") + which, CaRole::etcd, "peer", node.name,
                           {}, std::string("pki/etcd/") + which);
      e.sans = etcd_sans;
      out.push_back(std::move(e));
    }
    out.push_back(cert(node, "etcd-healthcheck-client", CaRole::etcd, "client",
                       "kube-etcd-healthcheck-client", {}, "pki/etcd/healthcheck-client"));

    // Kubeconfigs: admins and the kubelet talk to the control-plane endpoint; the
    // controller-manager and the scheduler to the apiserver on their own node.
    const std::string local = server_url(node.addresses.front(), cluster.bind_port);
    out.push_back(kubeconfig(node, "admin.conf", "kubernetes-admin", {kClusterAdmins}, endpoint));
    out.push_back(
        kubeconfig(node, "super-admin.conf", "kubernetes-super-admin", {kMasters}, endpoint));
    out.push_back(kubeconfig(node, "controller-manager.conf", "system:kube-controller-manager",
                             {}, local));
    out.push_back(kubeconfig(node, "scheduler.conf", "system:kube-scheduler", {}, local));
    out.push_back(kubeconfig(node, "kubelet.conf", "system:node:" + node.name, {kNodes},
                             endpoint));
  }
  return out;
}

}  // namespace hwca::k8s
