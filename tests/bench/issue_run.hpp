// One measured run of certificate issuance: threads sharing one Issuer, each calling
// issue_batch with its own batches of requests. A certificate counts once issue_batch has
// returned it, i.e. once it is recorded in the database and audited (both synced).
#pragma once

#include <string>
#include <vector>

#include "bench/bench_threads.hpp"
#include "bench/issue_setup.hpp"

namespace hwca::bench {

// A certificate kept for the checks after all runs (issue_checks.hpp).
struct IssueSample {
  ca::IssuedCertificate cert;
  size_t csr = 0;  // the index of its request
};

struct IssueRunResult : Timing {  // units are certificates
  double batch_seconds = 0;       // wall time inside issue_batch, all threads, all calls
  std::vector<IssueSample> samples;
  std::vector<std::string> failures;
};

// Thread i starts at request i * csrs.size() / nthreads and takes `batch` requests per call,
// cycling through all of them.
IssueRunResult run_issue(const Window& window, const std::vector<int>& cpus, ca::Issuer& issuer,
                         const std::vector<Csr>& csrs, int nthreads, int batch);

}  // namespace hwca::bench
