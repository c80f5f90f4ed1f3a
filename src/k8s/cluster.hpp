// The cluster description `hwca k8s certs` works from (docs/kubernetes.md), in kubeadm's
// camelCase:
//
//   apiVersion: hwca/v1
//   kind: Cluster
//   name: kubernetes                       # cluster name in kubeconfigs
//   controlPlaneEndpoint: 10.0.0.10:6443   # host[:port]; IPv6 as [addr]:port
//   serviceSubnet: 10.96.0.0/12
//   dnsDomain: cluster.local
//   certSANs: [api.example.com]            # extra apiserver SANs (DNS names or IPs)
//   cas: {kubernetes: k8s-ca, etcd: etcd-ca, frontProxy: front-proxy-ca}
//   leafKeyType: ec-p256                   # or rsa-2048, rsa-3072, rsa-4096, ec-p384
//   bindPort: 6443                         # the apiserver's port on each control-plane node
//   nodes:
//   - {name: cp1, role: control-plane, addresses: [10.0.0.11]}
//   - {name: w1, role: worker, addresses: [10.0.0.21]}
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"
#include "tokens/key_type.hpp"

namespace hwca::k8s {

enum class Role { control_plane, worker };

struct Node {
  std::string name;  // a DNS-1123 subdomain, as Kubernetes node names are
  Role role = Role::worker;
  std::vector<std::string> addresses;  // IPs, canonical text; the first is the advertise address
};

struct Cluster {
  std::string name = "kubernetes";
  std::string endpoint_host;  // without brackets
  int endpoint_port = 6443;
  int bind_port = 6443;  // where each control-plane node's apiserver listens (bindPort)
  std::string service_subnet = "10.96.0.0/12";
  std::string dns_domain = "cluster.local";
  std::vector<std::string> cert_sans;                  // "DNS:..." or "IP:..." (checked)
  std::string kubernetes_ca, etcd_ca, front_proxy_ca;  // hwca CA names
  tokens::KeyType leaf_key_type = tokens::KeyType::ec_p256;
  std::vector<Node> nodes;
};

// Parse and check a cluster description; `source` names it in errors.
Result<Cluster> parse_cluster(const std::string& text, const std::string& source);

// The apiserver's service IP: the first address of the service subnet ("10.96.0.0/12" ->
// "10.96.0.1", "fd00::/108" -> "fd00::1"). A subnet of fewer than 8 addresses (IPv4 /30 and
// longer, IPv6 /126 and longer) is refused: it leaves no room for services.
Result<std::string> first_service_ip(const std::string& cidr);

// "https://host:port", an IPv6 host in brackets.
std::string server_url(const std::string& host, int port);

}  // namespace hwca::k8s
