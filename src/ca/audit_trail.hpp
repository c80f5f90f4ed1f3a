// The audit chain, wherever it is kept: the home's file (AuditLog, audit_log.hpp) for a CA
// on one host, or a table of the PostgreSQL database that several instances share
// (PgAuditTrail, pg_audit_trail.hpp), so that every instance appends to one chain.
//
// Each line is one JSON object, keys sorted, no whitespace, carrying its sequence number and
// the SHA-256 of the line before it:
//
//   {"data":{...},"event":"cert.issued","prev":"<64 hex>","seq":7,"time":"2026-11-28T12:00:00Z"}
//
// so that a changed, removed or reordered line breaks the chain. Appends are serialised (a
// file lock; a database lock) and durable when they return. A chain cut under a writer is not
// continued: a trail remembers the last line it wrote or found (anchor()) and each append
// first checks that it is still there. Callers put no PIN and no key material in `data`.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace hwca::ca {

class Home;

class AuditTrail {
 public:
  struct Event {
    std::string event;
    nlohmann::json data;
  };
  struct Summary {
    size_t lines = 0;
    std::string head;  // hash of the last line (64 zeros for an empty chain)
  };
  using Visitor = std::function<void(const nlohmann::json& line)>;

  virtual ~AuditTrail() = default;

  // Remember where the chain ends now, so that a later cut is noticed even before this
  // object writes. With `must_exist` (a server over a database that already holds records)
  // a missing or empty chain is refused now (ErrorKind::conflict), and no append of this
  // object will ever start a new one.
  virtual Status anchor(bool must_exist) = 0;

  // Append events, in one write (one transaction); returns the hash of the last line.
  // (Out of line and not virtual: one symbol a benchmark can time, tests/bench/
  // issue_breakdown.cpp; the trail's own write is write_events.)
  Result<std::string> append_all(const std::vector<Event>& events);
  Result<std::string> append(const std::string& event, const nlohmann::json& data) {
    return append_all({Event{event, data}});
  }

  // Set aside room for appending `events`, without changing the chain: recorded elsewhere
  // first (the issuance database), they must not then meet a full disk.
  virtual Status reserve(const std::vector<Event>& events) = 0;

  // Check the whole chain. An error names the first line that breaks it and how. `visit`,
  // if given, sees each line's object in order (after its link was checked).
  virtual Result<Summary> check_chain(const Visitor& visit = {}) = 0;

  // "audit log /var/lib/hwca/audit.log", "the audit chain of postgresql://..."
  virtual std::string describe() const = 0;

 protected:
  virtual Result<std::string> write_events(const std::vector<Event>& events) = 0;
};

// The home's audit chain: the PostgreSQL database's table when the home's database is one,
// else the home's file (config.yaml auditLog). Nothing is opened yet: the first call does.
std::unique_ptr<AuditTrail> open_audit(const Home& home);

// --- the chain's lines, for both ---------------------------------------------------------

// The hash before the first line: 64 zeros.
const std::string& chain_genesis();

// Line `seq` of the chain, written now, after the line whose hash is `prev`.
std::string chain_line(size_t seq, const std::string& prev, const std::string& event,
                       const nlohmann::json& data);

// Check line `number` (its text without '\n') against the hash of the line before it;
// `where` names it in errors ("audit log X line 7"). Gives the line's object.
Result<nlohmann::json> check_chain_line(std::string_view line, size_t number,
                                        const std::string& prev, const std::string& where);

// SHA-256 of `text` as lower-case hex.
std::string sha256_hex(std::string_view text);

}  // namespace hwca::ca
