#include "bench/k8s_setup.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "bench/bench_key.hpp"
#include "ca/ca_init.hpp"

namespace hwca::bench {

std::unique_ptr<K8sHome> make_k8s_home(const test::SoftHsmToken& token,
                                       const std::string& home_dir) {
  auto out = std::make_unique<K8sHome>();
  out->key_options = key_load_options(token);
  static_cast<BenchHome&>(*out) = open_bench_home(home_dir);

  // hwca name, then kubeadm's CN (also a DNS SAN, as kubeadm's CAs carry it).
  static const char* const cas[][2] = {
      {"k8s-ca", "kubernetes"}, {"etcd-ca", "etcd-ca"}, {"front-proxy-ca", "front-proxy-ca"}};
  for (const auto& [name, cn] : cas) {
    BenchKey key = generate_key(token, tokens::KeyType::ec_p256, name);
    ca::InitCaRequest req;
    req.name = name;
    req.key_uri = key.uri;
    req.subject = std::string("/CN=") + cn;
    req.sans = {std::string("DNS:") + cn};
    req.key_options = out->key_options;
    req.requester = "bench";
    req.store = out->store.get();
    if (auto made = ca::init_ca(*out->home, *out->crypto, req); !made) {
      throw std::runtime_error(std::string("init_ca ") + name + ": " + made.error().message);
    }
  }
  return out;
}

std::string cluster_yaml(int control_planes, int workers, tokens::KeyType leaf) {
  std::ostringstream y;
  y << "apiVersion: hwca/v1\n"
       "kind: Cluster\n"
       "name: kubernetes\n"
       "controlPlaneEndpoint: 10.0.0.10:6443\n"
       "certSANs: [api.bench.example]\n"
       "cas: {kubernetes: k8s-ca, etcd: etcd-ca, frontProxy: front-proxy-ca}\n"
       "leafKeyType: "
    << tokens::key_type_name(leaf) << "\nnodes:\n";
  for (int i = 1; i <= control_planes; ++i) {
    y << "- {name: cp-" << i << ", role: control-plane, addresses: [10.0.0." << 10 + i << "]}\n";
  }
  for (int i = 1; i <= workers; ++i) {
    y << "- {name: worker-" << i << ", role: worker, addresses: [10." << 1 + i / 62500 << "."
      << i / 250 % 250 << "." << i % 250 + 1 << "]}\n";
  }
  return y.str();
}

k8s::Cluster make_cluster(int control_planes, int workers, tokens::KeyType leaf) {
  auto cluster = k8s::parse_cluster(cluster_yaml(control_planes, workers, leaf), "bench cluster");
  if (!cluster) throw std::runtime_error(cluster.error().message);
  return std::move(*cluster);
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  if (!(in >> one >> five >> fifteen)) return "unknown";
  return one + " " + five + " " + fifteen;
}

}  // namespace hwca::bench
