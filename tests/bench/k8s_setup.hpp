// What hwca_k8s_bench writes with and from: a CA home with kubeadm's three root CAs
// (k8s-ca, etcd-ca, front-proxy-ca), their ec-p256 keys generated in the SoftHSM token,
// and a cluster description of N control-plane nodes and M workers. Nothing here is timed.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "bench/issue_setup.hpp"
#include "ca/crypto_context.hpp"
#include "ca/home.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "k8s/cluster.hpp"
#include "support/softhsm_token.hpp"

namespace hwca::bench {

struct K8sHome : BenchHome {
  static constexpr int kCas = 3;
  tokens::OpenOptions key_options;
};

// Generates the three CA keys in `token`, makes the home in `home_dir` and the three root
// CAs in it with init_ca (kubeadm's subjects; each recorded in the home's database). Throws
// std::runtime_error naming what failed.
std::unique_ptr<K8sHome> make_k8s_home(const test::SoftHsmToken& token,
                                       const std::string& home_dir);

// The cluster description (YAML, as a user writes it) and the Cluster parse_cluster makes
// of it: nodes cp-1..cp-N (10.0.0.11...), then worker-1..worker-M (10.1.x.y), endpoint
// 10.0.0.10:6443, one extra apiserver SAN, leaf keys of `leaf`. Throws on a parse error.
std::string cluster_yaml(int control_planes, int workers, tokens::KeyType leaf);
k8s::Cluster make_cluster(int control_planes, int workers, tokens::KeyType leaf);

// "0.93 0.80 0.71" from /proc/loadavg (1, 5 and 15 minutes).
std::string load_average();

}  // namespace hwca::bench
