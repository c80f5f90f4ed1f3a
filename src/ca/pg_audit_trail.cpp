#include "ca/pg_audit_trail.hpp"

#include "ca/pg_connection.hpp"

namespace hwca::ca {
namespace {

// The same in every instance: the lock that serialises appends to the chain.
constexpr const char* kAppendLock = "SELECT pg_advisory_xact_lock(6879636100000002)";

tl::unexpected<Error> chain_fail(ErrorKind kind, std::string message) {
  return tl::unexpected<Error>(Error{kind, std::move(message), ErrorSource::audit_log});
}

}  // namespace

PgAuditTrail::PgAuditTrail(const std::string& url)
    : name_(pg::database_name(url).value_or("the configured PostgreSQL database")),
      pool_(std::make_unique<pg::Pool>(url, name_, /*read_only=*/false, /*size=*/1)) {}

PgAuditTrail::~PgAuditTrail() = default;

Status PgAuditTrail::anchor(bool must_exist) {
  std::lock_guard guard(mu_);
  must_exist_ = must_exist_ || must_exist;
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  auto last = (*conn)->exec("SELECT seq, line FROM audit_events ORDER BY seq DESC LIMIT 1",
                            "read the audit chain of");
  if (!last) return tl::unexpected(last.error());
  if (last->size() == 0) {
    if (known_) {
      return chain_fail(ErrorKind::conflict, describe() + " no longer holds line " +
                                                 std::to_string(known_->seq) +
                                                 ": it was cut; restore it from a backup");
    }
    if (!must_exist_) return {};
    return chain_fail(ErrorKind::conflict, describe() +
                                               " is empty, and a new chain must not start "
                                               "where one should continue; restore the "
                                               "database from a backup");
  }
  known_ = Known{static_cast<size_t>(last->int64(0, 0)), sha256_hex(last->text(0, 1))};
  return {};
}

bool PgAuditTrail::in_database(const std::string& conninfo) const {
  return pool_->conninfo() == conninfo;
}

Result<std::string> PgAuditTrail::write_events(const std::vector<Event>& events) {
  return append_after({}, events);
}

Result<std::string> PgAuditTrail::append_after(const std::function<Status(pg::Connection&)>& before,
                                               const std::vector<Event>& events) {
  std::lock_guard guard(mu_);
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  pg::Connection& c = **conn;
  std::string head;
  std::optional<Known> after;
  auto done = c.transaction(
      [&]() -> Status {
        if (before) {
          if (auto ok = before(c); !ok) return ok;
        }
        if (auto r = c.exec(kAppendLock, "append to the audit chain of"); !r) {
          return tl::unexpected(r.error());
        }
        // In one round trip: the last line, and the line this object wrote or found last
        // (seq 0, none, when it knows of none), which must still be where it was.
        auto ends = c.exec(
            "SELECT seq, line FROM audit_events WHERE seq = $1 OR seq = (SELECT max(seq) FROM "
            "audit_events) ORDER BY seq",
            pg::Params().int64(known_ ? static_cast<int64_t>(known_->seq) : 0),
            "append to the audit chain of");
        if (!ends) return tl::unexpected(ends.error());
        if (known_) {
          const bool held = ends->size() > 0 &&
                            ends->int64(0, 0) == static_cast<int64_t>(known_->seq) &&
                            sha256_hex(ends->text(0, 1)) == known_->hash;
          if (!held) {
            return chain_fail(ErrorKind::conflict,
                              describe() + " no longer holds line " + std::to_string(known_->seq) +
                                  " that this process wrote or found there: it was cut or "
                                  "replaced while hwca ran; run 'hwca audit verify' and restore "
                                  "the database from a backup");
          }
        }
        size_t seq = 0;
        head = chain_genesis();
        if (const int last = ends->size() - 1; last >= 0) {
          seq = static_cast<size_t>(ends->int64(last, 0));
          head = sha256_hex(ends->text(last, 1));
        } else if (must_exist_ || known_) {
          return chain_fail(ErrorKind::conflict, describe() +
                                                     " is empty, and a new chain must not start "
                                                     "where one should continue; restore the "
                                                     "database from a backup");
        }
        // One statement for the lines, however many.
        pg::ArrayText seqs, lines;
        for (const auto& e : events) {
          std::string line = chain_line(++seq, head, e.event, e.data);
          head = sha256_hex(line);
          seqs.int64(static_cast<int64_t>(seq));
          lines.text(line);
        }
        auto r = c.exec(
            "INSERT INTO audit_events (seq, line) SELECT * FROM unnest($1::bigint[], $2::text[])",
            pg::Params().text(seqs.str()).text(lines.str()), "append to the audit chain of");
        if (!r) return tl::unexpected(r.error());
        after = Known{seq, head};
        return {};
      },
      "append to the audit chain of");
  if (!done) return tl::unexpected(done.error());
  if (!events.empty()) known_ = after;
  return head;
}

Result<AuditTrail::Summary> PgAuditTrail::check_chain(const Visitor& visit) {
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  // One snapshot for the whole chain, while instances go on appending.
  pg::Connection& c = **conn;
  Summary summary{0, chain_genesis()};
  auto done = c.transaction(
      [&]() -> Status {
        summary = Summary{0, chain_genesis()};
        if (auto r = c.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
                            "read the audit chain of");
            !r) {
          return tl::unexpected(r.error());
        }
        auto rows =
            c.exec("SELECT seq, line FROM audit_events ORDER BY seq", "read the audit chain of");
        if (!rows) return tl::unexpected(rows.error());
        for (int i = 0; i < rows->size(); ++i) {
          const size_t number = summary.lines + 1;
          const std::string line = rows->text(i, 1);
          const std::string where = describe() + " line " + std::to_string(number);
          auto j = check_chain_line(line, number, summary.head, where);
          if (!j) return tl::unexpected(j.error());
          if (rows->int64(i, 0) != static_cast<int64_t>(number)) {
            return chain_fail(ErrorKind::conflict, where +
                                                       " is kept under another sequence "
                                                       "number: a row was altered");
          }
          summary.head = sha256_hex(line);
          summary.lines = number;
          if (visit) visit(*j);
        }
        return {};
      },
      "read the audit chain of");
  if (!done) return tl::unexpected(done.error());
  return summary;
}

}  // namespace hwca::ca
