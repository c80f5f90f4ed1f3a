// The audit chain in the PostgreSQL database that several hwca instances share (table
// audit_events, pg_schema.cpp): one row a line, keyed by its sequence number. An append
// takes a transaction-wide advisory lock, reads the last line and inserts after it, so that
// appends from every instance form one chain; seq is the primary key as well, so two
// appenders could never both write line n. A line is committed (durable) when append
// returns. Room on disk is the server's: reserve() has nothing to do.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "ca/audit_trail.hpp"

namespace hwca::ca {
namespace pg {
class Pool;
}

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
