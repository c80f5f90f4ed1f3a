// The watchdog's forced exit (src/common/forced_exit.hpp): it waits for a step held whole
// before it runs the undos, and a step that would begin during the exit does not. Each case
// runs in a child process: a forced exit happens once per process.
#include "common/forced_exit.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace hwca {
namespace {

using namespace std::chrono_literals;

// Exits 0 if the undo ran after the held step had finished.
void exit_after_a_held_step() {
  std::atomic<bool> held{false};
  std::atomic<bool> finished{false};
  std::thread step([&] {
    ForcedExitHold whole;
    held = true;
    std::this_thread::sleep_for(300ms);
    finished = true;
  });
  while (!held) std::this_thread::sleep_for(1ms);
  bool finished_first = false;
  ForcedExitUndo undo([&] { finished_first = finished.load(); });
  run_forced_exit_undos();
  ::_exit(finished_first ? 0 : 1);
}

// Exits 0 if a step begun during the exit did not start.
void exit_with_a_late_step() {
  std::atomic<bool> started{false};
  ForcedExitUndo undo([&] {
    std::thread late([&] {
      ForcedExitHold whole;  // waits for the end of the process
      started = true;
    });
    late.detach();
    std::this_thread::sleep_for(200ms);
  });
  run_forced_exit_undos();
  std::this_thread::sleep_for(100ms);
  ::_exit(started ? 1 : 0);
}

TEST(ForcedExit, WaitsForAStepHeldWholeBeforeTheUndos) {
  EXPECT_EXIT(exit_after_a_held_step(), ::testing::ExitedWithCode(0), "");
}

TEST(ForcedExit, AStepBegunDuringTheExitDoesNotStart) {
  EXPECT_EXIT(exit_with_a_late_step(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace hwca
