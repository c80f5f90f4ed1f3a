#include "tokens/call_watch.hpp"

#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "common/forced_exit.hpp"
#include "common/text.hpp"

namespace hwca::tokens {
namespace {

using Clock = std::chrono::steady_clock;

struct Entry {
  bool in_use = false;
  bool reported = false;  // the stuck handler has been told about this call
  Clock::time_point start;
  const char* what = nullptr;
  std::string device;
};

std::chrono::milliseconds initial_timeout() {
  if (const char* env = std::getenv("HWCA_TOKEN_TIMEOUT")) {
    char* end = nullptr;
    double seconds = std::strtod(env, &end);
    if (end != env && *end == '\0' && seconds > 0) {
      return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
    }
  }
  return std::chrono::seconds(30);
}

void default_handler(const std::string& message) {
  std::fprintf(stderr, "hwca: %s\n", printable(message).c_str());
  std::fflush(stderr);
  run_forced_exit_undos();  // what the command held half-made (hwca k8s certs' staging)
  ::_exit(5);
}

struct Watchdog {
  std::mutex mu;
  std::condition_variable wake;
  std::vector<Entry> entries;
  std::chrono::milliseconds timeout = initial_timeout();
  StuckHandler handler = default_handler;
  std::thread thread;
  bool running = false;  // false again in a forked child, which has no watchdog thread
  bool stopping = false;

  void ensure_thread() {  // mu held
    if (running) return;
    if (thread.joinable()) thread.detach();  // the parent's, before a fork
    stopping = false;
    running = true;
    thread = std::thread([this] { run(); });
  }

  void run() {
    std::unique_lock lock(mu);
    while (!stopping) {
      wake.wait_for(lock, std::chrono::milliseconds(100));
      auto now = Clock::now();
      for (auto& e : entries) {
        if (!e.in_use || e.reported || now - e.start < timeout) continue;
        e.reported = true;
        char seconds[32];
        std::snprintf(seconds, sizeof seconds, "%.1f",
                      static_cast<double>(timeout.count()) / 1000.0);
        std::string message = e.device + " did not answer " + e.what + " within " + seconds +
                              " s; giving up (is the device stopped or unreachable?)";
        auto h = handler;
        lock.unlock();
        h(message);
        lock.lock();
        break;
      }
    }
  }
};

Watchdog& dog() {
  static auto* instance = [] {
    auto* d = new Watchdog();  // never destroyed: outlives static destructors
    // Hold the lock across fork() so the child gets it in a known state, and tell the child
    // that it has no watchdog thread (threads do not survive fork).
    ::pthread_atfork([] { dog().mu.lock(); }, [] { dog().mu.unlock(); },
                     [] {
                       dog().running = false;
                       dog().mu.unlock();
                     });
    return d;
  }();
  return *instance;
}

}  // namespace

CallWatch::CallWatch(const char* what, const std::string& device) {
  auto& d = dog();
  std::lock_guard lock(d.mu);
  d.ensure_thread();
  size_t i = 0;
  while (i < d.entries.size() && d.entries[i].in_use) ++i;
  if (i == d.entries.size()) d.entries.emplace_back();
  Entry& e = d.entries[i];
  e.in_use = true;
  e.reported = false;
  e.start = Clock::now();
  e.what = what;
  e.device = device;
  slot_ = static_cast<int>(i);
}

CallWatch::~CallWatch() {
  auto& d = dog();
  std::lock_guard lock(d.mu);
  d.entries[static_cast<size_t>(slot_)].in_use = false;
}

void set_call_timeout(std::chrono::milliseconds timeout) {
  std::lock_guard lock(dog().mu);
  dog().timeout = timeout;
}

std::chrono::milliseconds call_timeout() {
  std::lock_guard lock(dog().mu);
  return dog().timeout;
}

void set_stuck_handler(StuckHandler handler) {
  std::lock_guard lock(dog().mu);
  dog().handler = handler ? std::move(handler) : StuckHandler(default_handler);
}

void stop_call_watchdog() {
  auto& d = dog();
  std::unique_lock lock(d.mu);
  if (!d.thread.joinable()) return;
  d.stopping = true;
  d.wake.notify_all();
  std::thread t = std::move(d.thread);
  bool ours = d.running;  // false in a forked child: the thread is the parent's
  d.running = false;
  lock.unlock();
  if (ours) {
    t.join();
  } else {
    t.detach();
  }
}

}  // namespace hwca::tokens
