// The audit log: append-only, one JSON object per line, each line carrying the SHA-256 of
// the line before it, so that a changed, removed or reordered line breaks the chain.
//
//   {"data":{...},"event":"cert.issued","prev":"<64 hex>","seq":7,"time":"2026-11-28T12:00:00Z"}
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

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace hwca::ca {

class AuditLog {
 public:
  explicit AuditLog(std::string path) : path_(std::move(path)) {}
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Remember where the chain ends now, so that a later cut is noticed even before this
  // object writes. With `must_exist` (a server over a database that already holds records)
  // a missing or empty log is refused now (ErrorKind::conflict), and no append of this
  // object will ever start a new chain.
  Status anchor(bool must_exist);

  // Append one event; returns the SHA-256 (hex) of the line written. The file is created
  // with mode 0600 if absent.
  Result<std::string> append(const std::string& event, const nlohmann::json& data);

  // Append several events with one write and one fsync (a batch of issued certificates).
  struct Event {
    std::string event;
    nlohmann::json data;
  };
  Result<std::string> append_all(const std::vector<Event>& events);

  // Set aside room on disk for appending `events` (an upper bound of their lines), without
  // changing the file: recorded elsewhere first (the issuance database), they must not then
  // meet a full disk. A file system that cannot reserve (no fallocate) is not refused.
  Status reserve(const std::vector<Event>& events);

  struct Summary {
    size_t lines = 0;
    std::string head;  // hash of the last line (64 zeros for an empty log)
  };
  // Check the whole chain. An error names the first line that breaks it and how. `visit`,
  // if given, sees each line's object in order (after its link was checked).
  using Visitor = std::function<void(const nlohmann::json& line)>;
  static Result<Summary> verify(const std::string& path, const Visitor& visit = {});

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

// SHA-256 of `text` as lower-case hex.
std::string sha256_hex(std::string_view text);

}  // namespace hwca::ca
