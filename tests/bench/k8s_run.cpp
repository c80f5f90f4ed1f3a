#include "bench/k8s_run.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cstring>
#include <optional>

#include "support/forwarding_store.hpp"

namespace hwca::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Time = std::optional<Clock::time_point>;

// The issuance store write_cluster_pki is given: the real one, with the time of its first
// use (Issuer::open asks writable() before it loads the CA's key), record() timed and the
// end of its last call kept (the end of signing, but for the last batch's audit write).
class TimedStore : public test::ForwardingStore {
 public:
  using test::ForwardingStore::ForwardingStore;
  Status writable() const override {
    if (!first_use) first_use = Clock::now();
    return inner_.writable();
  }
  Status record(const std::vector<ca::IssuedCert>& batch) override {
    auto start = Clock::now();
    auto ok = inner_.record(batch);
    last_end = Clock::now();
    record_seconds += std::chrono::duration<double>(*last_end - start).count();
    return ok;
  }

  mutable Time first_use;
  Time last_end;
  double record_seconds = 0;
};

// First and last report of each stage (the callback runs on the calling thread only).
struct StageClock {
  Time keys_first, keys_last, write_first, write_last;

  void report(const char* stage) {
    auto now = Clock::now();
    if (std::strcmp(stage, "keys") == 0) {
      if (!keys_first) keys_first = now;
      keys_last = now;
    } else if (std::strcmp(stage, "writing") == 0) {
      if (!write_first) write_first = now;
      write_last = now;
    }
  }
};

double seconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

PkiRun run_hwca(K8sHome& h, const k8s::Cluster& cluster, const std::string& out_dir,
                k8s::PkiOptions options) {
  TimedStore store(*h.store);
  StageClock clock;
  options.progress = [&clock](const char* stage, size_t, size_t) { clock.report(stage); };
  PkiRun run;
  double cpu0 = process_cpu_seconds();
  auto t0 = Clock::now();
  auto result = k8s::write_cluster_pki(*h.home, *h.crypto, store, cluster, out_dir, options);
  auto end = Clock::now();
  run.cpu_seconds = process_cpu_seconds() - cpu0;
  run.seconds = seconds(t0, end);
  if (!result) {
    run.error = result.error().message;
    return run;
  }
  run.report = std::move(*result);

  // Stage boundaries; a missing one falls on the next that happened.
  Clock::time_point write_last = clock.write_last.value_or(end);
  Clock::time_point sign_end =
      store.last_end ? *store.last_end
                     : clock.keys_last.value_or(clock.write_first.value_or(write_last));
  Clock::time_point keys_last = clock.keys_last.value_or(sign_end);
  Clock::time_point keys_first = clock.keys_first.value_or(keys_last);
  Clock::time_point open_first = store.first_use.value_or(keys_first);
  run.stages.prepare = seconds(t0, open_first);
  run.stages.open_cas = seconds(open_first, keys_first);
  run.stages.keys = seconds(keys_first, keys_last);
  run.stages.signing = seconds(keys_last, sign_end);
  run.stages.record = store.record_seconds;
  run.stages.writing = seconds(sign_end, write_last);
  run.stages.commit = seconds(write_last, end);
  return run;
}

}  // namespace hwca::bench
