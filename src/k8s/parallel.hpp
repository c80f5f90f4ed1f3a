// Independent jobs over an index range on a few threads, the calling thread one of them.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace hwca::k8s {

// The threads a run uses: `asked`, or one a core when 0.
inline unsigned thread_count(unsigned asked) {
  return asked ? asked : std::max(1u, std::thread::hardware_concurrency());
}

// job(i, on_caller) for every i in [0, count), each exactly once, on at most `threads`
// threads; on_caller is true on the calling thread (the one that may report progress).
// Returns when every job has ended. Jobs must not throw.
template <typename Job>
void run_parallel(size_t count, unsigned threads, Job&& job) {
  std::atomic<size_t> next{0};
  auto worker = [&](bool on_caller) {
    for (size_t i; (i = next++) < count;) job(i, on_caller);
  };
  size_t n = std::min<size_t>(threads ? threads : 1, count);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < n; ++t) pool.emplace_back(worker, false);
  worker(true);
  for (auto& t : pool) t.join();
}

}  // namespace hwca::k8s
