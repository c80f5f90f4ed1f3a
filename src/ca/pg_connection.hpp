// libpq as the PostgreSQL issuance store uses it: connections whose results are freed by
// RAII, statements whose values travel as parameters ($1, $2...; SQL text is never built
// from a value), errors mapped by SQLSTATE to hwca's kinds, a small pool, and a connection
// made again once the server is back.
//
// Messages name the database by its URL without a password (database_name()); libpq's own
// text is reduced to its first line. Every error here has ErrorSource::database.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ca/pg_library.hpp"
#include "common/result.hpp"

namespace hwca::ca::pg {

// A URL or keyword/value string libpq accepts, checked: no password in it (hwca's
// configuration and argv may be read by others: give it in a password file, libpq's
// passfile= or PGPASSFILE, or ~/.pgpass). The text back is the name for messages.
Result<std::string> database_name(const std::string& conninfo);

// A one-dimensional array in PostgreSQL's text form, for a parameter cast to an array type
// ($1::text[]): one column of a batch, so that `INSERT ... SELECT * FROM unnest($1::text[],
// $2::bigint[], ...)` writes any number of rows with one statement of one shape. Every
// element is quoted (backslash and double quote escaped); a missing one is NULL.
class ArrayText {
 public:
  ArrayText& text(std::string_view value);
  ArrayText& int64(int64_t value);
  ArrayText& bytes(const std::vector<uint8_t>& value);  // bytea's hex form, \x...
  ArrayText& null();
  ArrayText& text_or_null(const std::string& value);  // NULL when empty
  std::string str() const { return (out_.empty() ? "{" : out_) + "}"; }

 private:
  void quoted(std::string_view value);
  std::string out_;
};

// The values of $1, $2...: text, an integer, bytes (sent binary, for bytea) or NULL.
class Params {
 public:
  Params& text(std::string_view value);
  Params& int64(int64_t value);
  Params& bytes(const std::vector<uint8_t>& value);
  Params& null();
  // NULL when empty (columns that are NULL until known).
  Params& text_or_null(const std::string& value);
  Params& int64_or_null(int64_t value);  // NULL when 0

  size_t size() const { return values_.size(); }

 private:
  friend class Connection;
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;
};

struct ClearResult {
  const Libpq* pq;
  void operator()(PGresult* r) const { pq->PQclear(r); }
};

// The rows of one statement (results in text form).
class Rows {
 public:
  Rows(const Libpq& pq, PGresult* result) : pq_(pq), result_(result, ClearResult{&pq}) {}
  int size() const { return pq_.PQntuples(result_.get()); }
  bool null(int row, int col) const { return pq_.PQgetisnull(result_.get(), row, col) != 0; }
  std::string text(int row, int col) const;
  int64_t int64(int row, int col) const;  // 0 for NULL
  std::vector<uint8_t> bytes(int row, int col) const;
  bool boolean(int row, int col) const { return text(row, col) == "t"; }
  // The rows an INSERT, UPDATE or DELETE changed.
  int64_t affected() const;

 private:
  const Libpq& pq_;
  std::unique_ptr<PGresult, ClearResult> result_;
};

class Connection {
 public:
  // `read_only`: every transaction of the connection is (default_transaction_read_only).
  static Result<std::unique_ptr<Connection>> open(const std::string& conninfo,
                                                  const std::string& name, bool read_only);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // One statement. `doing` completes "cannot <doing> issuance database <name>".
  Result<Rows> exec(const char* sql, const Params& params, const std::string& doing);
  Result<Rows> exec(const char* sql, const std::string& doing) { return exec(sql, {}, doing); }
  // Several statements without parameters (the schema's texts).
  Status exec_script(const char* sql, const std::string& doing);

  // SQLSTATE of the last failed statement ("23505"), empty if it did not reach the server.
  const std::string& last_sqlstate() const { return sqlstate_; }

  // `body` between BEGIN and COMMIT; rolled back if it fails. A serialization failure or a
  // deadlock (the server chose this transaction to undo) runs it again, up to 5 times.
  Status transaction(const std::function<Status()>& body, const std::string& doing);

  // Whether the connection is gone (the server stopped, restarted or dropped it), as far as
  // libpq knows from the last call.
  bool broken() const { return pq_.PQstatus(conn_) != CONNECTION_OK; }
  // Whether it is still up, without a round trip: an idle connection hears nothing from the
  // server unless the server ended the session (a restart, an administrator), so anything
  // waiting on its socket counts as gone.
  bool alive();
  // Connect again (after broken()).
  Status reconnect();
  // The plans of the prepared statements are for the tables as they were when first run: a
  // connection that planned while they were small (a new database) would scan them whole
  // for as long as it lives. So, idle, it forgets its plans every 10 s (DISCARD PLANS keeps
  // the statements parsed). The pool connects again when this fails.
  Status refresh_plans(
      std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

 private:
  Connection(const Libpq& pq, PGconn* conn, std::string conninfo, std::string name, bool read_only)
      : pq_(pq),
        conn_(conn),
        conninfo_(std::move(conninfo)),
        name_(std::move(name)),
        read_only_(read_only) {}
  Status set_up();  // the session's settings, after each connect
  tl::unexpected<Error> error(const PGresult* result, const std::string& doing);

  const Libpq& pq_;
  PGconn* conn_;
  std::string conninfo_;
  std::string name_;
  bool read_only_;
  std::string sqlstate_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> its prepared statement
  std::chrono::steady_clock::time_point plans_until_;      // refresh_plans() after
};

// Up to `size` connections shared by the threads of a process: lease() waits for a free one
// (making a new one while fewer than `size` exist); a lease whose connection broke is
// dropped and replaced by a fresh one on a later lease, so that a store carries on without
// a restart once the server is back.
class Pool {
 public:
  Pool(std::string conninfo, std::string name, bool read_only, size_t size)
      : conninfo_(std::move(conninfo)),
        name_(std::move(name)),
        read_only_(read_only),
        size_(size) {}

  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = default;
    ~Lease();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  Result<Lease> lease();
  const std::string& name() const { return name_; }
  const std::string& conninfo() const { return conninfo_; }

 private:
  void give_back(std::unique_ptr<Connection> conn);

  std::string conninfo_;
  std::string name_;
  bool read_only_;
  size_t size_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  size_t open_ = 0;  // connections made and not dropped, idle or leased
};

}  // namespace hwca::ca::pg
