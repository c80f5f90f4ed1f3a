// What `hwca k8s certs` makes for each node: kubeadm's certificate set and kubeconfigs, with
// the subjects, SANs and extended key usages of kubeadm v1.29+ (docs/kubernetes.md has the
// table). Pure data: nothing here touches a key, a token or a file.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"
#include "k8s/cluster.hpp"

namespace hwca::k8s {

enum class CaRole { kubernetes, etcd, front_proxy };

// kubeadm's name for the role's CA ("ca", "etcd-ca", "front-proxy-ca") and the file a node
// gets it in, relative to the node folder ("pki/ca.crt", ...).
const char* ca_role_name(CaRole role);
const char* ca_role_file(CaRole role);
const std::string& ca_name_for(const Cluster& cluster, CaRole role);

struct PlannedCert {
  std::string node;
  std::string name;     // kubeadm's name: "apiserver", "etcd-server", "admin.conf", ...
  CaRole ca = CaRole::kubernetes;
  std::string profile;  // the hwca profile it is issued under: server, client or peer
  std::string common_name;
  std::vector<std::string> groups;  // O values
  std::vector<std::string> sans;    // "DNS:..." / "IP:...", in order, no duplicates
  // Relative to the node folder: "pki/apiserver" (.crt and .key beside it) or, for a
  // kubeconfig, "admin.conf".
  std::string path;
  bool kubeconfig = false;
  std::string server;  // a kubeconfig's server URL
};

// Every certificate of every node, in node order; on a control-plane node in kubeadm's order.
Result<std::vector<PlannedCert>> plan_certs(const Cluster& cluster);

// Every certificate a node may hold, in kubeadm's spelling (plus kubelet.conf), with the
// file it is in (relative to the node folder) and its CA.
struct CertificateFile {
  std::string name;  // "apiserver", "etcd-server", "admin.conf", ...
  std::string file;  // "pki/apiserver.crt", "pki/etcd/server.crt", "admin.conf", ...
  CaRole ca;
};
const std::vector<CertificateFile>& certificate_files();
// The names `hwca k8s renew` takes: certificate_files()'s names.
std::vector<std::string> certificate_names();

// Files only control-plane nodes get: the service-account key pair.
inline constexpr const char* kServiceAccountKey = "pki/sa.key";
inline constexpr const char* kServiceAccountPub = "pki/sa.pub";

}  // namespace hwca::k8s
