// One measured run: threads signing on one path for a fixed wall time after a warm-up, their
// CPU time, and the check of a sample of their signatures.
#pragma once

#include <openssl/types.h>
#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bench/bench_key.hpp"
#include "bench/bench_options.hpp"
#include "support/raw_pkcs11.hpp"

namespace hwca::bench {

// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus();

struct RunResult {
  double rate = 0;          // signatures per second
  uint64_t signatures = 0;  // completed in the measured window
  uint64_t made = 0;        // including the warm-up and the last one in flight
  double seconds = 0;
  double cpu_us = 0;    // CPU time per signature on the signing threads, microseconds
  double cpu_busy = 0;  // CPU seconds of the signing threads per wall second (cores)
  std::string cpus;     // where the signing threads ended the run ("1", "0,1")
  size_t verified = 0;
  std::vector<std::string> failures;
};

struct Bench {
  const Options& opt;
  const Input& in;
  test::RawPkcs11& raw;
  CK_SLOT_ID slot;
  OSSL_LIB_CTX* libctx;
  std::vector<int> cpus = allowed_cpus();

  RunResult run(const BenchKey& key, int nthreads, Path path);
};

}  // namespace hwca::bench
