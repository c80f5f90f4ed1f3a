// Timed runs shared by the benchmarks: threads that repeat one operation (pinned to CPUs),
// a warm-up, then a measured wall-clock window, and the CPU time the threads spent in it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace hwca::bench {

// The CPUs this process may run on, in order.
std::vector<int> allowed_cpus();

// CPU time of the calling thread, in seconds (CLOCK_THREAD_CPUTIME_ID).
double thread_cpu_seconds();

struct Control {
  std::atomic<int> phase{0};  // 0 warm-up, 1 measuring, 2 stop
  std::atomic<int> ready{0};  // threads done with their setup
};

// One thread of a run. A unit is what the operation counts: a signature, a certificate.
struct ThreadTiming {
  uint64_t measured = 0;  // units of the operations that returned while the window was open
  uint64_t total = 0;     // every unit completed, warm-up and the last operation included
  // CPU time of this thread (its own code, OpenSSL's, SoftHSM's and SQLite's: all run on
  // it) over the operations it started after it saw the window open, up to when it saw it
  // close, and the units of those operations.
  double cpu_seconds = 0;
  uint64_t cpu_units = 0;
  int cpu = -1;        // the CPU the thread was on at the end of the run
  bool ready = false;  // counted in Control::ready
  std::string error;   // set when setup or an operation failed
};

// Calls `op(&error)` until the run stops. It returns the units it completed; 0 means it
// failed and set `error`, which ends this thread's loop.
template <typename Op>
void timed_loop(Control& ctl, ThreadTiming& t, Op&& op) {
  bool timing = false;
  double cpu_start = 0;
  t.ready = true;
  ctl.ready.fetch_add(1);
  for (;;) {
    int phase = ctl.phase.load(std::memory_order_acquire);
    if (phase == 2) break;
    if (phase == 1 && !timing) {
      timing = true;
      cpu_start = thread_cpu_seconds();
    }
    uint64_t units = op(&t.error);
    if (units == 0) return;
    if (timing) t.cpu_units += units;
    if (ctl.phase.load(std::memory_order_relaxed) == 1) t.measured += units;
    t.total += units;
  }
  if (timing) t.cpu_seconds = thread_cpu_seconds() - cpu_start;
}

struct Window {
  double warmup = 0.5;   // seconds of work before the window, not counted
  double seconds = 3.0;  // the measured window
  bool pin = true;       // thread i on the i-th allowed CPU
};

struct Timing {
  double seconds = 0;   // the measured window
  uint64_t units = 0;   // completed in the window
  uint64_t made = 0;    // including the warm-up and the last operation in flight
  double rate = 0;      // units per second
  double cpu_us = 0;    // CPU time per unit on the working threads, microseconds
  double cpu_busy = 0;  // CPU seconds of the working threads per wall second (cores)
  std::string cpus;     // where the threads ended the run ("1", "0,1")
};

// Runs `body(i, ctl, threads[i])` on `threads.size()` threads. Each body does its setup,
// then calls timed_loop (a body that returns before that, after a failed setup, sets
// `error`). The warm-up starts when every thread is ready.
Timing run_timed(const Window& window, const std::vector<int>& cpus,
                 std::vector<ThreadTiming>& threads,
                 const std::function<void(int, Control&, ThreadTiming&)>& body);

}  // namespace hwca::bench
