// The audit log: append-only, one JSON object per line, each line carrying the SHA-256 of
// the line before it, so that a changed, removed or reordered line breaks the chain.
//
//   {"data":{...},"event":"cert.issued","prev":"<64 hex>","seq":7,"time":"2026-11-28T12:00:00Z"}
//
// Appends from several processes are serialised with flock(); each append is one write()
// followed by fsync() before it returns, so a recorded event survives a crash. A crash can
// at worst leave a torn last line (never confirmed to anyone); the next append removes it
// and records that it did. Callers put no PIN and no key material in `data`.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace hwca::ca {

class AuditLog {
 public:
  explicit AuditLog(std::string path) : path_(std::move(path)) {}

  // Append one event; returns the SHA-256 (hex) of the line written. The file is created
  // with mode 0600 if absent.
  Result<std::string> append(const std::string& event, const nlohmann::json& data);

  // Append several events with one write and one fsync (a batch of issued certificates).
  struct Event {
    std::string event;
    nlohmann::json data;
  };
  Result<std::string> append_all(const std::vector<Event>& events);

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
  std::string path_;
};

// SHA-256 of `text` as lower-case hex.
std::string sha256_hex(std::string_view text);

}  // namespace hwca::ca
