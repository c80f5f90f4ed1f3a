// One measured run of signatures on one path (bench_threads.hpp times it), and the check
// of a sample of its signatures.
#pragma once

#include <openssl/types.h>
#include <p11-kit/pkcs11.h>

#include <string>
#include <vector>

#include "bench/bench_key.hpp"
#include "bench/bench_options.hpp"
#include "bench/bench_threads.hpp"
#include "support/raw_pkcs11.hpp"

namespace hwca::bench {

struct RunResult : Timing {  // units are signatures
  size_t verified = 0;
  std::vector<std::string> failures;
};

struct Bench {
  const RunOptions& opt;
  const Input& in;
  test::RawPkcs11& raw;
  CK_SLOT_ID slot;
  OSSL_LIB_CTX* libctx;  // the provider path's; unused by the raw path
  std::vector<int> cpus = allowed_cpus();

  RunResult run(const BenchKey& key, int nthreads, Path path);
};

}  // namespace hwca::bench
