#include "ca/pg_connection.hpp"

#include <poll.h>

#include <charconv>
#include <cstring>

#include "common/text.hpp"

namespace hwca::ca::pg {
namespace {

constexpr int kTransactionAttempts = 5;

// libpq's message without its trailing newline, first line only.
std::string first_line(const char* text) {
  std::string s = text ? text : "";
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return printable(s);
}

tl::unexpected<Error> db_fail(ErrorKind kind, std::string message) {
  return tl::unexpected<Error>(Error{kind, std::move(message), ErrorSource::database});
}

// What an SQLSTATE means to hwca (https://www.postgresql.org/docs/current/errcodes-appendix.html).
ErrorKind kind_of(const std::string& state) {
  if (state.empty()) return ErrorKind::io;  // the statement never reached the server
  const std::string cls = state.substr(0, 2);
  if (state == "23505" || cls == "40") return ErrorKind::conflict;  // unique; serialization
  if (state == "3D000") return ErrorKind::not_found;                // no such database
  if (cls == "28") return ErrorKind::auth;                          // authentication
  // connection, shutdown, disk full or out of memory, system, read-only transaction
  if (cls == "08" || cls == "57" || cls == "53" || cls == "58" || state == "25006") {
    return ErrorKind::io;
  }
  return ErrorKind::internal;
}

// How long a connection keeps the plans of its prepared statements (refresh_plans).
constexpr auto kPlanLifetime = std::chrono::seconds(10);

}  // namespace

Result<std::string> database_name(const std::string& conninfo) {
  auto loaded = libpq();
  if (!loaded) return tl::unexpected(loaded.error());
  const Libpq& pq = **loaded;
  char* err = nullptr;
  PQconninfoOption* options = pq.PQconninfoParse(conninfo.c_str(), &err);
  if (options == nullptr) {
    std::string why = err ? first_line(err) : "out of memory";
    pq.PQfreemem(err);
    return fail(ErrorKind::usage, "database " + printable(conninfo) + ": " + why);
  }
  std::string user, host, port, dbname;
  bool password = false;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string_view key = o->keyword;
    if (key == "password" && *o->val != '\0') password = true;
    if (key == "user") user = o->val;
    if (key == "host") host = o->val;
    if (key == "port") port = o->val;
    if (key == "dbname") dbname = o->val;
  }
  pq.PQconninfoFree(options);
  std::string name = "postgresql://" + (user.empty() ? "" : user + "@") + host +
                     (port.empty() ? "" : ":" + port) + "/" + dbname;
  if (password) {
    return fail(ErrorKind::usage,
                "database " + printable(name) +
                    ": the URL carries a password; give it in a password file instead "
                    "(passfile= in the URL, $PGPASSFILE or ~/.pgpass, mode 0600)");
  }
  return printable(name);
}

Params& Params::text(std::string_view value) {
  values_.emplace_back(std::string(value));
  formats_.push_back(0);
  return *this;
}

Params& Params::int64(int64_t value) { return text(std::to_string(value)); }

Params& Params::bytes(const std::vector<uint8_t>& value) {
  values_.emplace_back(std::string(value.begin(), value.end()));
  formats_.push_back(1);  // binary: bytea as it is
  return *this;
}

Params& Params::null() {
  values_.emplace_back(std::nullopt);
  formats_.push_back(0);
  return *this;
}

Params& Params::text_or_null(const std::string& value) {
  return value.empty() ? null() : text(value);
}

Params& Params::int64_or_null(int64_t value) { return value == 0 ? null() : int64(value); }

std::string Rows::text(int row, int col) const {
  return std::string(pq_.PQgetvalue(result_.get(), row, col),
                     static_cast<size_t>(pq_.PQgetlength(result_.get(), row, col)));
}

int64_t Rows::int64(int row, int col) const {
  if (null(row, col)) return 0;
  const char* v = pq_.PQgetvalue(result_.get(), row, col);
  int64_t out = 0;
  std::from_chars(v, v + std::strlen(v), out);
  return out;
}

std::vector<uint8_t> Rows::bytes(int row, int col) const {
  size_t length = 0;
  unsigned char* raw = pq_.PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(pq_.PQgetvalue(result_.get(), row, col)), &length);
  if (raw == nullptr) return {};
  std::vector<uint8_t> out(raw, raw + length);
  pq_.PQfreemem(raw);
  return out;
}

int64_t Rows::affected() const {
  const char* v = pq_.PQcmdTuples(result_.get());
  int64_t out = 0;
  std::from_chars(v, v + std::strlen(v), out);
  return out;
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& conninfo,
                                                     const std::string& name, bool read_only) {
  // Defaults first: the URL's own connect_timeout and application_name win over them.
  const char* keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "hwca", conninfo.c_str(), nullptr};
  auto loaded = libpq();
  if (!loaded) return tl::unexpected(loaded.error());
  const Libpq& pq = **loaded;
  PGconn* conn = pq.PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return db_fail(ErrorKind::internal, "libpq: out of memory");
  std::unique_ptr<Connection> c(new Connection(pq, conn, conninfo, name, read_only));
  if (pq.PQstatus(conn) != CONNECTION_OK) {
    std::string why = first_line(pq.PQerrorMessage(conn));
    ErrorKind kind = why.find("password") != std::string::npos ? ErrorKind::auth : ErrorKind::io;
    return db_fail(kind, "cannot connect to issuance database " + name + ": " + why);
  }
  if (auto ok = c->set_up(); !ok) return tl::unexpected(ok.error());
  return c;
}

Connection::~Connection() { pq_.PQfinish(conn_); }

bool Connection::alive() {
  if (broken()) return false;
  pollfd p{pq_.PQsocket(conn_), POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

Status Connection::refresh_plans(std::chrono::steady_clock::time_point now) {
  if (now < plans_until_ || prepared_.empty()) return {};
  plans_until_ = now + kPlanLifetime;
  return exec_script("DISCARD PLANS", "plan statements of");
}

Status Connection::set_up() {
  plans_until_ = std::chrono::steady_clock::now() + kPlanLifetime;
  // The server's notices (and the last words of a session it ends) are not printed: errors
  // reach the caller as one line each, through error().
  pq_.PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
  if (read_only_) {
    if (auto r = exec("SET default_transaction_read_only = on", "open"); !r) {
      return tl::unexpected(r.error());
    }
  }
  return {};
}

Status Connection::reconnect() {
  pq_.PQreset(conn_);
  prepared_.clear();  // a new session has none
  if (pq_.PQstatus(conn_) != CONNECTION_OK) {
    return db_fail(ErrorKind::io, "cannot connect to issuance database " + name_ + ": " +
                                      first_line(pq_.PQerrorMessage(conn_)));
  }
  return set_up();
}

tl::unexpected<Error> Connection::error(const PGresult* result, const std::string& doing) {
  const char* state = result ? pq_.PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  sqlstate_ = state ? state : "";
  const char* primary = result ? pq_.PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string why = primary ? first_line(primary) : first_line(pq_.PQerrorMessage(conn_));
  if (why.empty()) why = "the server did not answer";
  return db_fail(kind_of(sqlstate_),
                 "cannot " + doing + " issuance database " + name_ + ": " + why);
}

void ArrayText::quoted(std::string_view value) {
  out_ += out_.empty() ? "{\"" : ",\"";
  for (char ch : value) {
    if (ch == '\\' || ch == '"') out_ += '\\';
    out_ += ch;
  }
  out_ += '"';
}

ArrayText& ArrayText::text(std::string_view value) {
  quoted(value);
  return *this;
}

ArrayText& ArrayText::int64(int64_t value) {
  quoted(std::to_string(value));
  return *this;
}

ArrayText& ArrayText::bytes(const std::vector<uint8_t>& value) {
  quoted("\\x" + hex_text(value.data(), value.size()));
  return *this;
}

ArrayText& ArrayText::null() {
  out_ += out_.empty() ? "{NULL" : ",NULL";
  return *this;
}

ArrayText& ArrayText::text_or_null(const std::string& value) {
  return value.empty() ? null() : text(value);
}

Result<Rows> Connection::exec(const char* sql, const Params& params, const std::string& doing) {
  sqlstate_.clear();
  const size_t n = params.size();
  std::vector<const char*> values(n);
  std::vector<int> lengths(n);
  for (size_t i = 0; i < n; ++i) {
    const auto& v = params.values_[i];
    values[i] = v ? v->data() : nullptr;
    lengths[i] = v ? static_cast<int>(v->size()) : 0;
  }
  // Each statement is parsed and planned once per connection, not at every call: that was
  // half of what the server spent on an EST enrollment (tests/bench/est_db_bench.sh).
  auto known = prepared_.find(sql);
  if (known == prepared_.end()) {
    std::string name = "hwca_" + std::to_string(prepared_.size());
    PGresult* made = pq_.PQprepare(conn_, name.c_str(), sql, static_cast<int>(n), nullptr);
    Rows made_rows(pq_, made);
    if (made == nullptr || pq_.PQresultStatus(made) != PGRES_COMMAND_OK) return error(made, doing);
    known = prepared_.emplace(sql, std::move(name)).first;
  }
  PGresult* raw =
      pq_.PQexecPrepared(conn_, known->second.c_str(), static_cast<int>(n), values.data(),
                         lengths.data(), params.formats_.data(), /*resultFormat=*/0);
  Rows rows(pq_, raw);
  const ExecStatusType status = raw ? pq_.PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return error(raw, doing);
  return rows;
}

Status Connection::exec_script(const char* sql, const std::string& doing) {
  sqlstate_.clear();
  PGresult* raw = pq_.PQexec(conn_, sql);
  Rows rows(pq_, raw);
  const ExecStatusType status = raw ? pq_.PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return error(raw, doing);
  return {};
}

Status Connection::transaction(const std::function<Status()>& body, const std::string& doing) {
  for (int attempt = 1;; ++attempt) {
    if (auto r = exec("BEGIN", doing); !r) return tl::unexpected(r.error());
    Status done = body();
    if (done) {
      auto r = exec("COMMIT", doing);
      done = r ? Status{} : Status(tl::unexpected(r.error()));
      if (done) return done;
    }
    const std::string state = sqlstate_;
    if (!broken()) (void)exec("ROLLBACK", doing);
    const bool again = state == "40001" || state == "40P01";
    if (!again || attempt == kTransactionAttempts) return done;
  }
}

Pool::Lease::~Lease() {
  if (pool_ != nullptr && conn_) pool_->give_back(std::move(conn_));
}

Result<Pool::Lease> Pool::lease() {
  std::unique_lock lock(mu_);
  freed_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    lock.unlock();
    // One the server dropped while it was idle (a restart), or that cannot refresh its plans,
    // connects again first, instead of failing the caller's first statement.
    if (conn->alive() && conn->refresh_plans()) return Lease(this, std::move(conn));
    if (auto ok = conn->reconnect(); !ok) {
      lock.lock();
      --open_;
      freed_.notify_one();
      return tl::unexpected(ok.error());
    }
    return Lease(this, std::move(conn));
  }
  ++open_;
  lock.unlock();
  auto conn = Connection::open(conninfo_, name_, read_only_);
  if (!conn) {
    lock.lock();
    --open_;
    freed_.notify_one();
    return tl::unexpected(conn.error());
  }
  return Lease(this, std::move(*conn));
}

void Pool::give_back(std::unique_ptr<Connection> conn) {
  std::lock_guard lock(mu_);
  if (conn->broken()) {
    --open_;  // dropped: the next lease connects anew
  } else {
    idle_.push_back(std::move(conn));
  }
  freed_.notify_one();
}

}  // namespace hwca::ca::pg
