// The certificate plan against the table of ../shared/reference/kubernetes-pki.md (kubeadm
// v1.29+): every name's subject, CA, profile (hence EKU), file and SANs, written out here by
// hand from the reference rather than from the code's output.
#include "k8s/plan.hpp"

#include <gtest/gtest.h>

#include <map>

namespace hwca::k8s {
namespace {

Cluster example() {
  auto c = parse_cluster(R"(apiVersion: hwca/v1
kind: Cluster
name: kubernetes
controlPlaneEndpoint: 10.0.0.10:6443
serviceSubnet: 10.96.0.0/12
dnsDomain: cluster.local
certSANs: [api.example.com]
cas: {kubernetes: k8s-ca, etcd: etcd-ca, frontProxy: front-proxy-ca}
nodes:
- {name: cp1, role: control-plane, addresses: [10.0.0.11]}
- {name: w1, role: worker, addresses: [10.0.0.21]}
)",
                         "cluster.yaml");
  EXPECT_TRUE(c) << c.error().message;
  return *c;
}

std::map<std::string, PlannedCert> by_name(const std::vector<PlannedCert>& plan,
                                           const std::string& node) {
  std::map<std::string, PlannedCert> out;
  for (const auto& p : plan) {
    if (p.node == node) out[p.name] = p;
  }
  return out;
}

struct Expected {
  const char* name;
  CaRole ca;
  const char* profile;
  const char* cn;
  std::vector<std::string> groups;
  const char* path;
  bool kubeconfig;
};

TEST(Plan, ControlPlaneNodeGetsKubeadmsSetWithItsSubjects) {
  auto plan = plan_certs(example());
  ASSERT_TRUE(plan) << plan.error().message;
  auto cp = by_name(*plan, "cp1");
  const std::vector<Expected> want = {
      {"apiserver", CaRole::kubernetes, "server", "kube-apiserver", {}, "pki/apiserver", false},
      {"apiserver-kubelet-client", CaRole::kubernetes, "client", "kube-apiserver-kubelet-client",
       {"kubeadm:cluster-admins"}, "pki/apiserver-kubelet-client", false},
      {"apiserver-etcd-client", CaRole::etcd, "client", "kube-apiserver-etcd-client", {},
       "pki/apiserver-etcd-client", false},
      {"front-proxy-client", CaRole::front_proxy, "client", "front-proxy-client", {},
       "pki/front-proxy-client", false},
      {"etcd-server", CaRole::etcd, "peer", "cp1", {}, "pki/etcd/server", false},
      {"etcd-peer", CaRole::etcd, "peer", "cp1", {}, "pki/etcd/peer", false},
      {"etcd-healthcheck-client", CaRole::etcd, "client", "kube-etcd-healthcheck-client", {},
       "pki/etcd/healthcheck-client", false},
      {"admin.conf", CaRole::kubernetes, "client", "kubernetes-admin",
       {"kubeadm:cluster-admins"}, "admin.conf", true},
      {"super-admin.conf", CaRole::kubernetes, "client", "kubernetes-super-admin",
       {"system:masters"}, "super-admin.conf", true},
      {"controller-manager.conf", CaRole::kubernetes, "client", "system:kube-controller-manager",
       {}, "controller-manager.conf", true},
      {"scheduler.conf", CaRole::kubernetes, "client", "system:kube-scheduler", {},
       "scheduler.conf", true},
      {"kubelet.conf", CaRole::kubernetes, "client", "system:node:cp1", {"system:nodes"},
       "kubelet.conf", true},
  };
  EXPECT_EQ(cp.size(), want.size());
  for (const auto& w : want) {
    SCOPED_TRACE(w.name);
    ASSERT_TRUE(cp.count(w.name));
    const PlannedCert& p = cp[w.name];
    EXPECT_EQ(p.ca, w.ca);
    EXPECT_EQ(p.profile, w.profile);
    EXPECT_EQ(p.common_name, w.cn);
    EXPECT_EQ(p.groups, w.groups);
    EXPECT_EQ(p.path, w.path);
    EXPECT_EQ(p.kubeconfig, w.kubeconfig);
  }
}

TEST(Plan, ApiserverAndEtcdSansAreTheReferences) {
  auto plan = plan_certs(example());
  ASSERT_TRUE(plan);
  auto cp = by_name(*plan, "cp1");
  EXPECT_EQ(cp["apiserver"].sans,
            (std::vector<std::string>{"DNS:cp1", "DNS:kubernetes", "DNS:kubernetes.default",
                                      "DNS:kubernetes.default.svc",
                                      "DNS:kubernetes.default.svc.cluster.local",
                                      "IP:10.96.0.1", "IP:10.0.0.11", "IP:10.0.0.10",
                                      "DNS:api.example.com"}));
  const std::vector<std::string> etcd = {"DNS:cp1", "DNS:localhost", "IP:10.0.0.11",
                                         "IP:127.0.0.1", "IP:::1"};
  EXPECT_EQ(cp["etcd-server"].sans, etcd);
  EXPECT_EQ(cp["etcd-peer"].sans, etcd);
  for (const char* client : {"apiserver-kubelet-client", "apiserver-etcd-client",
                             "front-proxy-client", "etcd-healthcheck-client", "admin.conf"}) {
    EXPECT_TRUE(cp[client].sans.empty()) << client;
  }
}

TEST(Plan, KubeconfigServersAreTheEndpointOrTheLocalApiserver) {
  auto plan = plan_certs(example());
  ASSERT_TRUE(plan);
  auto cp = by_name(*plan, "cp1");
  for (const char* name : {"admin.conf", "super-admin.conf", "kubelet.conf"}) {
    EXPECT_EQ(cp[name].server, "https://10.0.0.10:6443") << name;
  }
  for (const char* name : {"controller-manager.conf", "scheduler.conf"}) {
    EXPECT_EQ(cp[name].server, "https://10.0.0.11:6443") << name;
  }
}

TEST(Plan, WorkerGetsOnlyItsKubeletKubeconfig) {
  auto plan = plan_certs(example());
  ASSERT_TRUE(plan);
  auto w = by_name(*plan, "w1");
  ASSERT_EQ(w.size(), 1u);
  const PlannedCert& k = w["kubelet.conf"];
  EXPECT_EQ(k.common_name, "system:node:w1");
  EXPECT_EQ(k.groups, std::vector<std::string>{"system:nodes"});
  EXPECT_EQ(k.server, "https://10.0.0.10:6443");
  EXPECT_TRUE(k.sans.empty());
}

TEST(Plan, NamesAreNotRepeatedAndIpv6IsCanonicalAndBracketed) {
  Cluster c = example();
  c.endpoint_host = "10.0.0.11";                                  // = the advertise address
  c.cert_sans = {"DNS:Kubernetes", "IP:fd00:0:0::5", "DNS:api.example.com"};  // case differs
  c.nodes[0].addresses = {"10.0.0.11", "fd00::11"};
  c.bind_port = 8443;
  auto plan = plan_certs(c);
  ASSERT_TRUE(plan);
  auto cp = by_name(*plan, "cp1");
  EXPECT_EQ(cp["apiserver"].sans,
            (std::vector<std::string>{"DNS:cp1", "DNS:kubernetes", "DNS:kubernetes.default",
                                      "DNS:kubernetes.default.svc",
                                      "DNS:kubernetes.default.svc.cluster.local",
                                      "IP:10.96.0.1", "IP:10.0.0.11", "IP:fd00::11", "IP:fd00::5",
                                      "DNS:api.example.com"}));
  EXPECT_EQ(cp["scheduler.conf"].server, "https://10.0.0.11:8443");

  c.nodes[0].addresses = {"fd00::11"};
  c.endpoint_host = "fd00::10";
  plan = plan_certs(c);
  ASSERT_TRUE(plan);
  cp = by_name(*plan, "cp1");
  EXPECT_EQ(cp["admin.conf"].server, "https://[fd00::10]:6443");
  EXPECT_EQ(cp["controller-manager.conf"].server, "https://[fd00::11]:8443");
}

TEST(Plan, EveryNameHasItsFileAndCa) {
  auto plan = plan_certs(example());
  ASSERT_TRUE(plan);
  const auto& files = certificate_files();
  for (const auto& p : *plan) {
    auto it = std::find_if(files.begin(), files.end(),
                           [&](const CertificateFile& f) { return f.name == p.name; });
    ASSERT_NE(it, files.end()) << p.name;
    EXPECT_EQ(it->ca, p.ca) << p.name;
    EXPECT_EQ(it->file, p.kubeconfig ? p.path : p.path + ".crt") << p.name;
  }
  EXPECT_STREQ(ca_role_file(CaRole::kubernetes), "pki/ca.crt");
  EXPECT_STREQ(ca_role_file(CaRole::etcd), "pki/etcd/ca.crt");
  EXPECT_STREQ(ca_role_file(CaRole::front_proxy), "pki/front-proxy-ca.crt");
}

}  // namespace
}  // namespace hwca::k8s
