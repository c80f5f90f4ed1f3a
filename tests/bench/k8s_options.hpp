// hwca_k8s_bench's command line.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "tokens/keystore.hpp"

namespace hwca::bench {

struct K8sOptions {
  int control_planes = 3;
  int workers = 1000;      // --workers
  int rsa_workers = -1;    // --rsa-workers; -1: as --workers
  int rounds = 3;          // timed runs of each path, ec-p256 (and any non-RSA leaf type)
  int rsa_rounds = 1;      // timed runs of each path with an RSA leaf type
  int reruns = 3;          // timed runs over the unchanged tree
  unsigned threads = 0;    // PkiOptions::threads and the baseline's; 0: one a core
  std::vector<tokens::KeyType> leaves{tokens::KeyType::ec_p256, tokens::KeyType::rsa_2048};
  std::string dir;         // where the token, the home and the output go ($TMPDIR, /tmp)
  double target_seconds = 5.0;
  bool markdown = false;
  bool help = false;

  int workers_for(tokens::KeyType leaf) const {
    return tokens::is_rsa(leaf) && rsa_workers > 0 ? rsa_workers : workers;
  }
  int rounds_for(tokens::KeyType leaf) const { return tokens::is_rsa(leaf) ? rsa_rounds : rounds; }
  unsigned thread_count() const;  // threads, or the number of cores
};

void k8s_usage(std::FILE* out);
// Throws std::invalid_argument naming the bad argument.
K8sOptions parse_k8s_options(int argc, char** argv);

}  // namespace hwca::bench
