// The cluster description: the issue's example is accepted as written; the service IP and
// server URL follow kubeadm (../shared/reference/kubernetes-pki.md); mistakes name the field.
#include "k8s/cluster.hpp"

#include <gtest/gtest.h>

namespace hwca::k8s {
namespace {

const char* kExample = R"(apiVersion: hwca/v1
kind: Cluster
name: kubernetes                       # cluster name in kubeconfigs
controlPlaneEndpoint: 10.0.0.10:6443   # host[:port]; server URL of the kubeconfigs
serviceSubnet: 10.96.0.0/12
dnsDomain: cluster.local
certSANs: [api.example.com]            # extra apiserver SANs
cas: {kubernetes: k8s-ca, etcd: etcd-ca, frontProxy: front-proxy-ca}   # hwca CA names
leafKeyType: ec-p256                   # or rsa-2048, rsa-3072, rsa-4096, ec-p384
nodes:
- {name: cp1, role: control-plane, addresses: [10.0.0.11]}   # control planes run etcd
- {name: w1, role: worker, addresses: [10.0.0.21]}
)";

void expect_refused(const std::string& text, const std::string& part) {
  auto c = parse_cluster(text, "cluster.yaml");
  ASSERT_FALSE(c) << "accepted: " << text;
  EXPECT_EQ(c.error().kind, ErrorKind::usage);
  EXPECT_NE(c.error().message.find(part), std::string::npos) << c.error().message;
}

std::string replaced(const std::string& from, const std::string& to) {
  std::string s = kExample;
  auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(Cluster, TheIssuesExampleIsAcceptedAsWritten) {
  auto c = parse_cluster(kExample, "cluster.yaml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->name, "kubernetes");
  EXPECT_EQ(c->endpoint_host, "10.0.0.10");
  EXPECT_EQ(c->endpoint_port, 6443);
  EXPECT_EQ(c->service_subnet, "10.96.0.0/12");
  EXPECT_EQ(c->dns_domain, "cluster.local");
  EXPECT_EQ(c->cert_sans, std::vector<std::string>{"DNS:api.example.com"});
  EXPECT_EQ(c->kubernetes_ca, "k8s-ca");
  EXPECT_EQ(c->etcd_ca, "etcd-ca");
  EXPECT_EQ(c->front_proxy_ca, "front-proxy-ca");
  EXPECT_EQ(c->leaf_key_type, tokens::KeyType::ec_p256);
  ASSERT_EQ(c->nodes.size(), 2u);
  EXPECT_EQ(c->nodes[0].name, "cp1");
  EXPECT_EQ(c->nodes[0].role, Role::control_plane);
  EXPECT_EQ(c->nodes[0].addresses, std::vector<std::string>{"10.0.0.11"});
  EXPECT_EQ(c->nodes[1].role, Role::worker);
}

TEST(Cluster, DefaultsAreKubeadms) {
  auto c = parse_cluster(R"(apiVersion: hwca/v1
kind: Cluster
controlPlaneEndpoint: api.example.com
cas: {kubernetes: a, etcd: b, frontProxy: c}
nodes: [{name: cp1, role: control-plane, addresses: ["fd00::11"]}]
)",
                         "c.yaml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->name, "kubernetes");
  EXPECT_EQ(c->endpoint_host, "api.example.com");
  EXPECT_EQ(c->endpoint_port, 6443);
  EXPECT_EQ(c->service_subnet, "10.96.0.0/12");
  EXPECT_EQ(c->dns_domain, "cluster.local");
}

TEST(Cluster, AnIpv6EndpointIsWrittenInBrackets) {
  auto c = parse_cluster(replaced("10.0.0.10:6443", "\"[2001:DB8::10]:8443\""), "c.yaml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->endpoint_host, "2001:db8::10");
  EXPECT_EQ(c->endpoint_port, 8443);
  EXPECT_EQ(server_url(c->endpoint_host, c->endpoint_port), "https://[2001:db8::10]:8443");
  EXPECT_EQ(server_url("10.0.0.10", 6443), "https://10.0.0.10:6443");
  expect_refused(replaced("10.0.0.10:6443", "\"2001:db8::10\""), "[address]:port");
  expect_refused(replaced("10.0.0.10:6443", "10.0.0.10:70000"), "not 1-65535");
  expect_refused(replaced("10.0.0.10:6443", "bad_host:6443"), "neither a host name nor an IP");
}

TEST(Cluster, TheServiceIpIsTheSubnetsFirstAddress) {
  EXPECT_EQ(*first_service_ip("10.96.0.0/12"), "10.96.0.1");
  EXPECT_EQ(*first_service_ip("10.96.7.9/12"), "10.96.0.1");  // host bits cleared
  EXPECT_EQ(*first_service_ip("172.16.0.0/16"), "172.16.0.1");
  EXPECT_EQ(*first_service_ip("fd00:10:96::/108"), "fd00:10:96::1");
  EXPECT_FALSE(first_service_ip("10.96.0.0"));
  EXPECT_FALSE(first_service_ip("10.96.0.0/32"));
  EXPECT_FALSE(first_service_ip("10.96.0.0/x"));
  EXPECT_FALSE(first_service_ip("10.96.0/12"));
  // Fewer than 8 addresses leave no room for services.
  EXPECT_EQ(*first_service_ip("10.96.0.0/29"), "10.96.0.1");
  EXPECT_EQ(*first_service_ip("fd00::/125"), "fd00::1");
  for (const char* small : {"10.96.0.0/30", "10.96.0.0/31", "fd00::/126"}) {
    auto ip = first_service_ip(small);
    ASSERT_FALSE(ip) << small;
    EXPECT_NE(ip.error().message.find("too small"), std::string::npos) << ip.error().message;
  }
  expect_refused(replaced("10.96.0.0/12", "10.96.0.0/30"), "too small");
}

TEST(Cluster, BindPortIsTheLocalApiserversPort) {
  auto c = parse_cluster(
      replaced("dnsDomain: cluster.local", "dnsDomain: cluster.local\nbindPort: 8443"),
      "cluster.yaml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->bind_port, 8443);
  EXPECT_EQ(parse_cluster(kExample, "x")->bind_port, 6443);
  expect_refused(replaced("dnsDomain: cluster.local", "dnsDomain: cluster.local\nbindPort: 0"),
                 "bindPort");
}

TEST(Cluster, MistakesNameTheField) {
  expect_refused(replaced("apiVersion: hwca/v1", "apiVersion: v1"), "apiVersion must be hwca/v1");
  expect_refused(replaced("kind: Cluster", "kind: Config"), "kind must be Cluster");
  expect_refused(replaced("serviceSubnet: 10.96.0.0/12", "serviceSubnet: 10.96.0.0"),
                 "serviceSubnet");
  expect_refused(replaced("certSANs: [api.example.com]", "certSANs: [\"a b\"]"), "certSANs");
  expect_refused(replaced("frontProxy: front-proxy-ca", "frontproxy: front-proxy-ca"),
                 "unknown CA role 'frontproxy'");
  expect_refused(replaced(", etcd: etcd-ca", ""), "needs kubernetes, etcd and frontProxy");
  expect_refused(replaced("leafKeyType: ec-p256", "leafKeyType: dsa-1024"), "leafKeyType");
  expect_refused(replaced("name: w1", "name: W1"), "not a node name");
  expect_refused(replaced("name: w1", "name: cp1"), "node 'cp1' is listed twice");
  expect_refused(replaced("role: worker", "role: master"), "control-plane or worker");
  expect_refused(replaced("addresses: [10.0.0.11]", "addresses: []"), "needs an address");
  expect_refused(replaced("addresses: [10.0.0.21]", "addresses: [10.0.0.321]"),
                 "not an IP address");
  expect_refused(replaced("role: control-plane", "role: worker"), "at least one control-plane");
  expect_refused(replaced("dnsDomain: cluster.local", "dnsDomain: cluster.local\nextra: 1"),
                 "unknown field 'extra'");
  expect_refused("apiVersion: hwca/v1\nkind: [", "cluster.yaml line");
  expect_refused(replaced("name: kubernetes", "name: kube\x01rnetes"),
                 "cluster.yaml line 3: a character YAML does not allow (01)");
}

// YAML keys are unique; yaml-cpp keeps both copies, and a second `nodes:` or `certSANs:`
// would have been added to the first (a second `name:` would have replaced it).
TEST(Cluster, AKeyGivenTwiceIsRefused) {
  expect_refused(replaced("dnsDomain: cluster.local", "dnsDomain: cluster.local\nnodes: []"),
                 "cluster.yaml: 'nodes' appears twice");
  expect_refused(
      replaced("dnsDomain: cluster.local", "dnsDomain: cluster.local\ncertSANs: [b.example.com]"),
      "'certSANs' appears twice");
  expect_refused(replaced("etcd: etcd-ca", "etcd: etcd-ca, etcd: other-ca"),
                 "cluster.yaml: cas: 'etcd' appears twice");
  expect_refused(replaced("role: worker", "role: worker, name: w2"),
                 "cluster.yaml: nodes[1]: 'name' appears twice");
}

}  // namespace
}  // namespace hwca::k8s
