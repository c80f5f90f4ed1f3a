// Small RAII helpers over the SQLite C API for the issuance store: a prepared statement
// (Stmt) that keeps the first binding failure for step() to report, and a transaction (Txn)
// rolled back unless committed. Private to hwca_ca.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace hwca::ca::sqlite {

// Prepared statements of one connection, kept for reuse: SQLite parses a statement's SQL
// every time it is prepared, which cost more than running the lookups of an EST enrollment
// (0.29 M of its 3.25 M instructions). Used only under its connection's mutex. Destroy it
// before the connection: it finalises what it holds.
class StmtCache {
 public:
  StmtCache() = default;
  StmtCache(const StmtCache&) = delete;
  StmtCache& operator=(const StmtCache&) = delete;
  ~StmtCache() {
    for (auto& [sql, s] : idle_) sqlite3_finalize(s);
  }
  // An idle statement for `sql`, else a new one (`rc` says whether it prepared).
  sqlite3_stmt* take(sqlite3* db, const char* sql, int* rc) {
    *rc = SQLITE_OK;
    if (auto it = idle_.find(sql); it != idle_.end()) {
      sqlite3_stmt* s = it->second;
      idle_.erase(it);
      return s;
    }
    sqlite3_stmt* s = nullptr;
    *rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    return s;
  }
  // Back for reuse, reset (its transaction's read ends) and without bindings.
  void give(const char* sql, sqlite3_stmt* s) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    idle_.emplace(sql, s);
  }

 private:
  std::unordered_multimap<std::string, sqlite3_stmt*> idle_;  // by SQL text
};

// Finalises a statement, or gives it back to the cache it came from.
struct StmtClose {
  StmtCache* cache = nullptr;
  const char* sql = nullptr;
  void operator()(sqlite3_stmt* s) const {
    if (cache != nullptr) {
      cache->give(sql, s);
    } else {
      sqlite3_finalize(s);
    }
  }
};

// A prepared statement; binding failures are kept and reported by the next step().
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    sqlite3_stmt* s = nullptr;
    rc_ = sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
    s_.reset(s);
  }
  // From `cache` (the connection's), and back to it afterwards; `sql` must outlive this.
  Stmt(StmtCache& cache, sqlite3* db, const char* sql) : s_(nullptr, StmtClose{&cache, sql}) {
    s_.reset(cache.take(db, sql, &rc_));
  }
  int prepare_rc() const { return rc_; }

  void bind(const char* name, const std::string& v) {
    if (int i = index(name)) {
      keep(sqlite3_bind_text64(s_.get(), i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    }
  }
  void bind(const char* name, int64_t v) {
    if (int i = index(name)) keep(sqlite3_bind_int64(s_.get(), i, v));
  }
  void bind(const char* name, const std::vector<uint8_t>& v) {
    if (int i = index(name)) {
      keep(v.empty() ? sqlite3_bind_zeroblob(s_.get(), i, 0)
                     : sqlite3_bind_blob64(s_.get(), i, v.data(), v.size(), SQLITE_TRANSIENT));
    }
  }
  void bind_null(const char* name) {
    if (int i = index(name)) keep(sqlite3_bind_null(s_.get(), i));
  }
  int step() { return rc_ != SQLITE_OK ? rc_ : sqlite3_step(s_.get()); }
  void reset() {
    if (!s_) return;  // the statement did not prepare: step() keeps returning why
    sqlite3_reset(s_.get());
    sqlite3_clear_bindings(s_.get());
  }

  int columns() const { return s_ ? sqlite3_column_count(s_.get()) : 0; }
  int64_t int64(int col) const { return sqlite3_column_int64(s_.get(), col); }
  bool is_null(int col) const { return sqlite3_column_type(s_.get(), col) == SQLITE_NULL; }
  std::string text(int col) const {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_.get(), col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_.get(), col))) : "";
  }
  std::vector<uint8_t> blob(int col) const {
    auto p = static_cast<const uint8_t*>(sqlite3_column_blob(s_.get(), col));
    return p ? std::vector<uint8_t>(p, p + sqlite3_column_bytes(s_.get(), col))
             : std::vector<uint8_t>{};
  }

 private:
  int index(const char* name) { return s_ ? sqlite3_bind_parameter_index(s_.get(), name) : 0; }
  void keep(int rc) {
    if (rc_ == SQLITE_OK) rc_ = rc;
  }
  std::unique_ptr<sqlite3_stmt, StmtClose> s_;
  int rc_ = SQLITE_OK;
};

// A transaction rolled back unless commit() succeeded. Declare it before the statements
// used in it, so that they are finalised first.
class Txn {
 public:
  explicit Txn(sqlite3* db) : db_(db) {}
  ~Txn() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  // A write transaction takes the write lock now (waiting up to the busy timeout), so it
  // never fails half way because another process wrote in between.
  int begin(bool write) {
    int rc = sqlite3_exec(db_, write ? "BEGIN IMMEDIATE" : "BEGIN", nullptr, nullptr, nullptr);
    open_ = rc == SQLITE_OK;
    return rc;
  }
  int commit() {
    int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) open_ = false;
    return rc;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

}  // namespace hwca::ca::sqlite
