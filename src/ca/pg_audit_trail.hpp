// The audit chain in the PostgreSQL database that several hwca instances share (table
// audit_events, pg_schema.cpp): one row a line, keyed by its sequence number. An append
// takes a transaction-wide advisory lock, reads the last line and inserts after it, so that
// appends from every instance form one chain; seq is the primary key as well, so two
// appenders could never both write line n. A line is committed (durable) when append
// returns. Room on disk is the server's: reserve() has nothing to do.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ca/audit_trail.hpp"

namespace hwca::ca {
namespace pg {
class Pool;
class Connection;
}  // namespace pg

class PgAuditTrail : public AuditTrail {
 public:
  // `url`: the database, checked already (Home::open refuses one with a password); the
  // schema must exist (PgIssuanceStore::open makes it). Connects on first use.
  explicit PgAuditTrail(const std::string& url);
  ~PgAuditTrail() override;

  Status anchor(bool must_exist) override;
  Status reserve(const std::vector<Event>&) override { return {}; }
  Result<Summary> check_chain(const Visitor& visit = {}) override;
  std::string describe() const override { return "the audit chain of " + name_; }

  // Whether the chain is in the database libpq's `conninfo` names (the same text).
  bool in_database(const std::string& conninfo) const;
  // Append `events` in a transaction that first runs `before` on the same connection
  // (PgIssuanceStore::record_audited: the certificates the lines are about): both or
  // neither. `before` runs before the chain's lock is taken, so that instances insert their
  // rows at once and hold the lock only to read the head and append. It may run again (a
  // serialization failure retried).
  Result<std::string> append_after(const std::function<Status(pg::Connection&)>& before,
                                   const std::vector<Event>& events);

 protected:
  Result<std::string> write_events(const std::vector<Event>& events) override;

 private:
  struct Known {
    size_t seq = 0;
    std::string hash;
  };

  std::string name_;
  std::unique_ptr<pg::Pool> pool_;
  std::mutex mu_;  // known_, must_exist_
  std::optional<Known> known_;
  bool must_exist_ = false;
};

}  // namespace hwca::ca
