#include "bench/issue_run.hpp"

#include <chrono>

namespace hwca::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kSamplesPerThread = 32;  // certificates kept per thread and run for checking
constexpr size_t kSampleEvery = 257;      // ... the first two, then every 257th

struct IssueThread {
  std::vector<IssueSample> samples;
  double batch_seconds = 0;
};

void issue_thread(ca::Issuer& issuer, const std::vector<Csr>& csrs, size_t first, size_t batch,
                  Control& ctl, ThreadTiming& t, IssueThread& r) {
  // The batches, made before the thread reports ready: the requests cycle from `first`.
  const size_t m = csrs.size();
  size_t nbatches = (m + batch - 1) / batch;
  std::vector<std::vector<ca::SignRequest>> batches(nbatches);
  std::vector<std::vector<size_t>> indices(nbatches);
  for (size_t b = 0; b < nbatches; ++b) {
    for (size_t j = 0; j < batch; ++j) {
      size_t i = (first + b * batch + j) % m;
      batches[b].push_back(sign_request(csrs, i));
      indices[b].push_back(i);
    }
  }
  size_t next = 0;
  timed_loop(ctl, t, [&](std::string* error) -> uint64_t {
    size_t b = next;
    next = (next + 1) % nbatches;
    Clock::time_point start = Clock::now();
    auto issued = issuer.issue_batch(batches[b]);
    r.batch_seconds += std::chrono::duration<double>(Clock::now() - start).count();
    if (!issued) {
      *error = "issue_batch: " + issued.error().message;
      return 0;
    }
    if (issued->size() != batch) {
      *error = "issue_batch returned " + std::to_string(issued->size()) + " certificates for " +
               std::to_string(batch) + " requests";
      return 0;
    }
    for (size_t j = 0; j < issued->size(); ++j) {
      uint64_t n = t.total + j;  // certificates of this thread before this one
      if ((n < 2 || n % kSampleEvery == 0) && r.samples.size() < kSamplesPerThread) {
        r.samples.push_back({std::move((*issued)[j]), indices[b][j]});
      }
    }
    return issued->size();
  });
}

}  // namespace

IssueRunResult run_issue(const Window& window, const std::vector<int>& cpus, ca::Issuer& issuer,
                         const std::vector<Csr>& csrs, int nthreads, int batch) {
  std::vector<IssueThread> threads(static_cast<size_t>(nthreads));
  std::vector<ThreadTiming> timings(threads.size());
  IssueRunResult out;
  static_cast<Timing&>(out) =
      run_timed(window, cpus, timings, [&](int i, Control& ctl, ThreadTiming& t) {
        size_t first = static_cast<size_t>(i) * csrs.size() / static_cast<size_t>(nthreads);
        issue_thread(issuer, csrs, first, static_cast<size_t>(batch), ctl, t,
                     threads[static_cast<size_t>(i)]);
      });
  for (size_t i = 0; i < threads.size(); ++i) {
    if (!timings[i].error.empty()) {
      out.failures.push_back("thread " + std::to_string(i) + ": " + timings[i].error);
    }
    out.batch_seconds += threads[i].batch_seconds;
    for (auto& s : threads[i].samples) out.samples.push_back(std::move(s));
  }
  if (out.samples.empty() && out.failures.empty()) out.failures.push_back("nothing was issued");
  return out;
}

}  // namespace hwca::bench
