#include "common/forced_exit.hpp"

#include <condition_variable>
#include <map>
#include <mutex>

namespace hwca {
namespace {

struct Undos {
  std::mutex mu;
  std::map<int, std::function<void()>> undos;
  int next = 0;
  bool ran = false;
};

Undos& undos() {
  static auto* u = new Undos();  // never destroyed: the watchdog may use it at any time
  return *u;
}

struct Holds {
  std::mutex mu;
  std::condition_variable changed;
  int active = 0;
  bool exiting = false;
};

Holds& holds() {
  static auto* h = new Holds();  // never destroyed, as above
  return *h;
}

}  // namespace

ForcedExitUndo::ForcedExitUndo(std::function<void()> undo) {
  auto& u = undos();
  std::lock_guard lock(u.mu);
  id_ = u.next++;
  u.undos.emplace(id_, std::move(undo));
}

ForcedExitUndo::~ForcedExitUndo() {
  auto& u = undos();
  std::lock_guard lock(u.mu);
  u.undos.erase(id_);
}

ForcedExitHold::ForcedExitHold() {
  auto& h = holds();
  std::unique_lock lock(h.mu);
  h.changed.wait(lock, [&] { return !h.exiting; });  // during an exit: until the process ends
  ++h.active;
}

ForcedExitHold::~ForcedExitHold() {
  auto& h = holds();
  std::lock_guard lock(h.mu);
  --h.active;
  h.changed.notify_all();
}

void run_forced_exit_undos() {
  {
    auto& h = holds();
    std::unique_lock lock(h.mu);
    h.exiting = true;
    h.changed.wait_for(lock, kForcedExitHoldWait, [&] { return h.active == 0; });
  }
  auto& u = undos();
  // Held until the process ends: an owner finishing meanwhile waits instead of racing.
  u.mu.lock();
  if (u.ran) {
    u.mu.unlock();
    return;
  }
  u.ran = true;
  for (auto it = u.undos.rbegin(); it != u.undos.rend(); ++it) it->second();
  u.mu.unlock();
}

}  // namespace hwca
