// hwca_k8s_bench's results and tables.
#pragma once

#include <vector>

#include "bench/k8s_baseline.hpp"
#include "bench/k8s_options.hpp"
#include "bench/k8s_run.hpp"

namespace hwca::bench {

// The runs of one leaf key type.
struct LeafResult {
  tokens::KeyType leaf{};
  int workers = 0;
  size_t nodes = 0, certs = 0, files = 0;  // files: of each tree written
  std::vector<PkiRun> hwca, reruns;
  std::vector<BaselineRun> baseline;
};

// On stdout: per leaf type, the medians and minima of hwca and of the baseline, hwca/baseline
// of the medians ("ratio") and the median of that ratio round by round ("paired"), the
// re-run, and whether the median is under the target; then the stages of each path.
void print_tables(const K8sOptions& opt, const std::vector<LeafResult>& results);

}  // namespace hwca::bench
