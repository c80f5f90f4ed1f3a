#include "common/forced_exit.hpp"

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

void run_forced_exit_undos() {
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
