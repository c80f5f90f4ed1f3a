// The audit chain in a file of the home (audit_trail.hpp): append-only, one line per event.
//
// Appends from several processes are serialised with flock(); each append is one write()
// followed by fsync() before it returns, so a recorded event survives a crash. A crash can
// at worst leave a torn last line (never confirmed to anyone); the next append removes it
// and records that it did. Callers put no PIN and no key material in `data`.
//
// A log cut under a writer is not continued: an AuditLog remembers the last line it wrote
// (or found, with anchor()), and each append first checks, under the lock, that the file
// still holds that line where it was; if the file was truncated, replaced or removed the
// append fails (ErrorKind::conflict) instead of starting the chain again at seq 1. Every
// error of this class has ErrorSource::audit_log.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ca/audit_trail.hpp"

namespace hwca::ca {

class AuditLog : public AuditTrail {
 public:
  explicit AuditLog(std::string path) : path_(std::move(path)) {}
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  Status anchor(bool must_exist) override;
  // Room on disk (fallocate, the file's size unchanged); a file system that cannot reserve
  // is not refused.
  Status reserve(const std::vector<Event>& events) override;
  Result<Summary> check_chain(const Visitor& visit = {}) override { return verify(path_, visit); }
  std::string describe() const override { return "audit log " + path_; }

  // Check the whole chain of the file at `path`.
  static Result<Summary> verify(const std::string& path, const Visitor& visit = {});

 protected:
  // The file is created with mode 0600 if absent.
  Result<std::string> write_events(const std::vector<Event>& events) override;

  const std::string& path() const { return path_; }

 private:
  // The last line this object wrote or anchored: the file must still hold it, ending at
  // byte `end` (its '\n' excluded from `length`).
  struct Known {
    size_t end = 0;
    size_t length = 0;
    size_t seq = 0;
    std::string hash;
  };
  Status check_known(int fd) const;  // under the file's lock and mu_

  std::string path_;
  std::mutex mu_;  // known_ and must_exist_; held while appending
  std::optional<Known> known_;
  bool must_exist_ = false;
};

}  // namespace hwca::ca
