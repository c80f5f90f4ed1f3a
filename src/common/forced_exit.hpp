// Work to undo when the process is ended on purpose from another thread: the call watchdog
// (tokens/call_watch) gives up on a device call that never returns and calls _exit(5),
// skipping every destructor. Whatever a command holds half-made meanwhile (hwca k8s certs'
// staging folder, a folder it created) registers its undo here for that time.
#pragma once

#include <chrono>
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

// A step that must not be cut in two while it lives (the issuer's record of a certificate and
// its audit line: cut between them, the certificate is in the database and never audited).
// A forced exit waits for the holds alive when it starts (at most kForcedExitHoldWait), and a
// hold begun after it started waits for the exit instead of starting its step.
class ForcedExitHold {
 public:
  ForcedExitHold();
  ~ForcedExitHold();
  ForcedExitHold(const ForcedExitHold&) = delete;
  ForcedExitHold& operator=(const ForcedExitHold&) = delete;
};
inline constexpr std::chrono::seconds kForcedExitHoldWait{10};

// Waits for the holds (above), then runs every registered undo, newest first (once; later
// calls do nothing). Called by the watchdog just before _exit.
void run_forced_exit_undos();

}  // namespace hwca
