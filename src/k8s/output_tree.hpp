// The folder `hwca k8s certs` writes: one tree a node (DIR/<node>/...), replaced whole or
// not at all.
//
// A run stages the new tree of every node that changes under DIR/.hwca-staging/new/<node>
// (starting from a copy of the node's current tree), syncs the file system once, writes a
// COMMIT record, then swaps each staged tree in with two renames (the old tree moves to
// .hwca-staging/old/<node> and is removed at the end). An interrupted run is
// finished by the next one when its COMMIT record exists (every staged tree is complete),
// and discarded otherwise (nothing of it was in place). One run at a time: DIR/.hwca.lock.
#pragma once

#include <sys/types.h>

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/forced_exit.hpp"
#include "common/result.hpp"

namespace hwca::k8s {

class OutputTree {
 public:
  // Opens DIR (created with mode 0700 if missing, and removed again by a run that puts
  // nothing in it), takes its lock and finishes or discards
  // an earlier run's staging; what it did is added to `notes`.
  static Result<OutputTree> open(const std::string& dir, std::vector<std::string>& notes);
  OutputTree(OutputTree&& other) noexcept;
  OutputTree& operator=(OutputTree&&) = delete;
  ~OutputTree();

  const std::string& dir() const { return dir_; }
  std::string node_path(const std::string& node, const std::string& rel) const;

  // Write DIR/<node>/<rel> in the node's staged tree (staged on first use).
  Status write(const std::string& node, const std::string& rel, std::string_view data, mode_t mode);
  size_t staged_nodes() const { return staged_.size(); }

  // Put every staged tree in place, durably. Without a call, nothing staged is kept.
  Status commit();

 private:
  OutputTree(std::string dir, int lock_fd) : dir_(std::move(dir)), lock_fd_(lock_fd) {}
  Status stage(const std::string& node);
  std::string staging() const { return dir_ + "/.hwca-staging"; }

  std::string dir_;
  int lock_fd_ = -1;
  std::set<std::string> staged_;
  bool committed_ = false;
  bool recorded_ = false;  // the COMMIT record is written: keep the staging for recovery
  bool created_ = false;   // open() made the folder: a run that writes nothing removes it
  // Until the COMMIT record: what the destructor undoes, done by the call watchdog too if it
  // ends the process.
  std::unique_ptr<ForcedExitUndo> undo_;
};

}  // namespace hwca::k8s
