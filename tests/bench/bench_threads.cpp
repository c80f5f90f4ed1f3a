#include "bench/bench_threads.hpp"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <chrono>
#include <thread>

namespace hwca::bench {
namespace {

using Clock = std::chrono::steady_clock;

void pin_this_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

}  // namespace

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> out;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) out.push_back(c);
    }
  }
  return out;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Timing run_timed(const Window& window, const std::vector<int>& cpus,
                 std::vector<ThreadTiming>& threads,
                 const std::function<void(int, Control&, ThreadTiming&)>& body) {
  Control ctl;
  const int n = static_cast<int>(threads.size());
  std::vector<std::thread> workers;
  for (int i = 0; i < n; ++i) {
    ThreadTiming& t = threads[static_cast<size_t>(i)];
    int cpu = window.pin && !cpus.empty() ? cpus[static_cast<size_t>(i) % cpus.size()] : -1;
    workers.emplace_back([&, i, cpu] {
      if (cpu >= 0) pin_this_thread(cpu);
      body(i, ctl, t);
      if (!t.ready) ctl.ready.fetch_add(1);  // setup failed before the loop
      t.cpu = sched_getcpu();
    });
  }
  while (ctl.ready.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::duration<double>(window.warmup));
  Clock::time_point t1 = Clock::now();
  ctl.phase.store(1, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(window.seconds));
  Clock::time_point t2 = Clock::now();
  ctl.phase.store(2, std::memory_order_release);
  for (auto& w : workers) w.join();

  Timing out;
  out.seconds = std::chrono::duration<double>(t2 - t1).count();
  double cpu = 0;
  uint64_t cpu_units = 0;
  for (int i = 0; i < n; ++i) {
    const ThreadTiming& t = threads[static_cast<size_t>(i)];
    out.units += t.measured;
    out.made += t.total;
    if (i > 0) out.cpus += ',';
    out.cpus += std::to_string(t.cpu);
    cpu += t.cpu_seconds;
    cpu_units += t.cpu_units;
  }
  out.rate = out.seconds > 0 ? static_cast<double>(out.units) / out.seconds : 0;
  out.cpu_us = cpu_units > 0 ? cpu * 1e6 / static_cast<double>(cpu_units) : 0;
  out.cpu_busy = out.seconds > 0 ? cpu / out.seconds : 0;
  return out;
}

}  // namespace hwca::bench
