// Work to undo when the process is ended on purpose from another thread: the call watchdog
// (tokens/call_watch) gives up on a device call that never returns and calls _exit(5),
// skipping every destructor. Whatever a command holds half-made meanwhile (hwca k8s certs'
// staging folder, a folder it created) registers its undo here for that time.
#pragma once

#include <functional>

namespace hwca {

class ForcedExitUndo {
 public:
  explicit ForcedExitUndo(std::function<void()> undo);
  ~ForcedExitUndo();
  ForcedExitUndo(const ForcedExitUndo&) = delete;
  ForcedExitUndo& operator=(const ForcedExitUndo&) = delete;

 private:
  int id_;
};

// Runs every registered undo, newest first (once; later calls do nothing). Called by the
// watchdog just before _exit.
void run_forced_exit_undos();

}  // namespace hwca
