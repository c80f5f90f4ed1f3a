#include "ca/db_migrate.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>

#include "ca/audit_log.hpp"
#include "ca/database.hpp"
#include "ca/home.hpp"
#include "ca/pg_audit_trail.hpp"
#include "ca/pg_connection.hpp"
#include "ca/pg_issuance_store.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"

namespace hwca::ca {
namespace {

// One table: its columns read from SQLite in the order PostgreSQL's INSERT takes them.
// Integers, text, blobs and NULLs travel as they are; what differs is converted in SQL: a
// certificate's SANs (SQLite: rows of cert_sans; PostgreSQL: a JSON array, addresses_json)
// and an EK root's anchor (0/1; boolean). Rows are read in the order they were made, so
// PostgreSQL's serial columns (certs.id, bootstrap_tokens.seq) follow it.
struct Table {
  const char* name;
  const char* select;
  const char* insert;
};

const Table kTables[] = {
    {"certs",
     "SELECT ca, serial, profile, subject, (SELECT json_group_array(san) FROM (SELECT san FROM "
     "cert_sans WHERE cert_id = certs.id ORDER BY position)), not_before, not_after, requester, "
     "der, revoked_at, revocation_reason, recorded_at, renewed_from, spki_sha256, "
     "attest_ek_sha256, attest_ak_name, attest_key_name FROM certs ORDER BY id",
     "INSERT INTO certs (ca, serial, profile, subject, sans, not_before, not_after, requester, "
     "der, revoked_at, revocation_reason, recorded_at, renewed_from, spki_sha256, "
     "attest_ek_sha256, attest_ak_name, attest_key_name) VALUES ($1, $2, $3, $4, $5, $6, $7, "
     "$8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"},
    {"serial_reservations",
     "SELECT ca, serial, reserved_at FROM serial_reservations ORDER BY ca, serial",
     "INSERT INTO serial_reservations (ca, serial, reserved_at) VALUES ($1, $2, $3)"},
    {"crl_numbers", "SELECT ca, last FROM crl_numbers ORDER BY ca",
     "INSERT INTO crl_numbers (ca, last) VALUES ($1, $2)"},
    {"bootstrap_tokens",
     "SELECT id, node, secret_sha256, addresses, created_at, expires_at, created_by, used_at, "
     "revoked_at FROM bootstrap_tokens ORDER BY rowid",
     "INSERT INTO bootstrap_tokens (id, node, secret_sha256, addresses, created_at, expires_at, "
     "created_by, used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"},
    {"node_tpms",
     "SELECT node, ek_sha256, ek_kind, ek_der, registered_at, registered_by, addresses FROM "
     "node_tpms ORDER BY node",
     "INSERT INTO node_tpms (node, ek_sha256, ek_kind, ek_der, registered_at, registered_by, "
     "addresses) VALUES ($1, $2, $3, $4, $5, $6, $7)"},
    {"ek_roots",
     "SELECT sha256, subject, CASE anchor WHEN 0 THEN 'false' ELSE 'true' END, der, added_at, "
     "added_by FROM ek_roots ORDER BY sha256",
     "INSERT INTO ek_roots (sha256, subject, anchor, der, added_at, added_by) VALUES ($1, $2, "
     "$3, $4, $5, $6)"},
};

// Every table the copy writes, locked against other instances for the transaction.
constexpr const char* kLockAll =
    "LOCK TABLE certs, serial_reservations, crl_numbers, bootstrap_tokens, node_tpms, ek_roots, "
    "ca_definitions, audit_events IN EXCLUSIVE MODE";
constexpr const char* kCountAll =
    "SELECT (SELECT count(*) FROM certs) + (SELECT count(*) FROM serial_reservations) + "
    "(SELECT count(*) FROM crl_numbers) + (SELECT count(*) FROM bootstrap_tokens) + "
    "(SELECT count(*) FROM node_tpms) + (SELECT count(*) FROM ek_roots) + "
    "(SELECT count(*) FROM ca_definitions) + (SELECT count(*) FROM audit_events)";

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct Finalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, CloseDb>;
using Stmt = std::unique_ptr<sqlite3_stmt, Finalize>;

tl::unexpected<Error> sqlite_fail(sqlite3* db, const std::string& path, const std::string& doing) {
  return fail(ErrorKind::io, "cannot " + doing + " " + path + ": " + sqlite3_errmsg(db));
}

// The SQLite file, write-locked (BEGIN IMMEDIATE) until the object goes: nothing is recorded
// there while its rows are copied and the home switched.
Result<Db> lock_source(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) return sqlite_fail(raw, path, "open");
  sqlite3_busy_timeout(raw, 5000);
  if (sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail(ErrorKind::conflict, "cannot lock " + path + " for the copy (" +
                                         sqlite3_errmsg(raw) +
                                         "): stop every hwca serve and command using the home, "
                                         "then run 'hwca db migrate' again");
  }
  return db;
}

// Copy one table's rows; returns how many.
Result<size_t> copy_table(sqlite3* db, const std::string& path, const Table& t, pg::Connection& c) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, t.select, -1, &raw, nullptr) != SQLITE_OK) {
    return sqlite_fail(db, path, std::string("read ") + t.name + " of");
  }
  Stmt s(raw);
  const std::string doing = std::string("copy ") + t.name + " into";
  size_t rows = 0;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    pg::Params p;
    for (int i = 0; i < sqlite3_column_count(raw); ++i) {
      switch (sqlite3_column_type(raw, i)) {
        case SQLITE_INTEGER:
          p.int64(sqlite3_column_int64(raw, i));
          break;
        case SQLITE_TEXT:
          p.text({reinterpret_cast<const char*>(sqlite3_column_text(raw, i)),
                  static_cast<size_t>(sqlite3_column_bytes(raw, i))});
          break;
        case SQLITE_BLOB: {
          const auto* b = static_cast<const uint8_t*>(sqlite3_column_blob(raw, i));
          p.bytes(std::vector<uint8_t>(b, b + sqlite3_column_bytes(raw, i)));
          break;
        }
        case SQLITE_NULL:
          p.null();
          break;
        default:
          return fail(ErrorKind::internal, path + ": table " + t.name + " holds a value of a " +
                                               "type hwca never writes (column " +
                                               std::to_string(i + 1) + ")");
      }
    }
    if (auto r = c.exec(t.insert, p, doing); !r) return tl::unexpected(r.error());
    ++rows;
  }
  if (rc != SQLITE_DONE) return sqlite_fail(db, path, std::string("read ") + t.name + " of");
  return rows;
}

// The home's CAs as a shared database keeps them ('hwca ca init' on PostgreSQL).
Result<std::vector<SharedCa>> shared_cas_of(const Home& home, const std::string& requester) {
  std::vector<SharedCa> cas;
  for (const auto& [name, entry] : home.config().cas) {
    const std::string path = home.path(entry.cert);
    auto pem = read_file(path);
    if (!pem) return wrap(pem.error(), "CA '" + name + "'");
    struct stat st {};
    int64_t made = ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtime) : 0;
    cas.push_back(SharedCa{name, ca_entry_yaml(entry), *pem, made, requester});
  }
  return cas;
}

// The audit log's lines as they are, up to the last whole one the chain check counted.
Result<std::vector<std::string>> audit_lines(const std::string& path, size_t count) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (lines.size() < count && std::getline(in, line)) lines.push_back(line);
  if (lines.size() != count) {
    return fail(ErrorKind::conflict, "audit log " + path + " changed while it was read");
  }
  return lines;
}

tl::unexpected<Error> mismatch(const std::string& to, const std::string& what) {
  return fail(ErrorKind::internal,
              "the copy in " + to + " does not match the home: " + what +
                  "; the home still uses its SQLite file: empty that database and run 'hwca db "
                  "migrate' again");
}

// Read the copy back through the PostgreSQL store and audit trail, as an instance would.
Status check_copy(const std::string& url, const MigrationReport& report, pg::Connection& c) {
  auto store = PgIssuanceStore::open(url, {.read_only = true});
  if (!store) return tl::unexpected(store.error());
  auto certs = (*store)->list(std::nullopt, std::nullopt);
  auto tokens = (*store)->tokens();
  auto tpms = (*store)->tpms();
  auto roots = (*store)->ek_roots();
  auto cas = (*store)->shared_cas();
  if (!certs || !tokens || !tpms || !roots || !cas) {
    return fail(ErrorKind::io, "cannot read the copy back from " + report.to);
  }
  for (const auto& [table, copied] : report.rows) {
    size_t found = 0;
    if (table == "certs") found = certs->size();
    if (table == "bootstrap_tokens") found = tokens->size();
    if (table == "node_tpms") found = tpms->size();
    if (table == "ek_roots") found = roots->size();
    if (table == "ca_definitions") found = cas->size();
    if (table == "serial_reservations" || table == "crl_numbers") {
      auto n = c.exec(("SELECT count(*) FROM " + table).c_str(), "count the copy in");
      if (!n) return tl::unexpected(n.error());
      found = static_cast<size_t>(n->int64(0, 0));
    }
    if (found != copied) {
      return mismatch(report.to, table + " holds " + std::to_string(found) + " rows, " +
                                     std::to_string(copied) + " were copied");
    }
  }
  auto chain = PgAuditTrail(url).check_chain();
  if (!chain) return tl::unexpected(chain.error());
  if (chain->lines != report.audit_lines || chain->head != report.audit_head) {
    return mismatch(report.to, "its audit chain has " + std::to_string(chain->lines) +
                                   " lines ending in " + chain->head + ", the log " +
                                   std::to_string(report.audit_lines) + " ending in " +
                                   report.audit_head);
  }
  return {};
}

}  // namespace

Result<MigrationReport> migrate_to_postgresql(Home& home, const std::string& url,
                                              const std::string& requester) {
  const Config& config = home.config();
  if (is_postgresql_url(config.database)) {
    return fail(ErrorKind::usage, home.path("config.yaml") +
                                      " names a PostgreSQL database already: 'hwca db "
                                      "migrate' moves a home from its SQLite file");
  }
  if (!is_postgresql_url(url)) {
    return fail(ErrorKind::usage, "--to needs a postgresql:// URL");
  }
  auto name = pg::database_name(url);
  if (!name) return tl::unexpected(name.error());
  MigrationReport report;
  report.from = home.path(config.database);
  report.audit_from = home.path(config.audit_log);
  report.to = *name;

  // The source: checked (and its schema brought up to date) by the store, then locked.
  if (::access(report.from.c_str(), F_OK) != 0) {
    return fail(ErrorKind::not_found,
                "no issuance database at " + report.from + ": nothing to migrate");
  }
  if (auto s = SqliteIssuanceStore::open(report.from); !s) return tl::unexpected(s.error());
  auto db = lock_source(report.from);
  if (!db) return tl::unexpected(db.error());
  auto log = AuditLog::verify(report.audit_from);
  if (!log) return wrap(log.error(), "the audit log must verify before it is migrated");
  auto lines = audit_lines(report.audit_from, log->lines);
  if (!lines) return tl::unexpected(lines.error());
  auto cas = shared_cas_of(home, requester);
  if (!cas) return tl::unexpected(cas.error());

  // The target: the schema made by the store, then everything in one transaction.
  if (auto s = PgIssuanceStore::open(url, {}); !s) return tl::unexpected(s.error());
  pg::Pool pool(url, *name, /*read_only=*/false, /*size=*/1);
  auto conn = pool.lease();
  if (!conn) return tl::unexpected(conn.error());
  pg::Connection& c = **conn;
  auto copied = c.transaction(
      [&]() -> Status {
        report.rows.clear();
        if (auto r = c.exec(kLockAll, "lock the tables of"); !r) return tl::unexpected(r.error());
        auto held = c.exec(kCountAll, "count the records of");
        if (!held) return tl::unexpected(held.error());
        if (held->int64(0, 0) != 0) {
          return fail(ErrorKind::conflict, "issuance database " + *name +
                                               " holds hwca records already: migrate into an "
                                               "empty database");
        }
        for (const auto& t : kTables) {
          auto n = copy_table(db->get(), report.from, t, c);
          if (!n) return tl::unexpected(n.error());
          report.rows.emplace_back(t.name, *n);
        }
        for (const auto& ca : *cas) {
          if (auto ok = PgIssuanceStore::insert_ca(c, ca, *name); !ok) return ok;
        }
        report.rows.emplace_back("ca_definitions", cas->size());
        for (size_t i = 0; i < lines->size(); ++i) {
          auto r = c.exec("INSERT INTO audit_events (seq, line) VALUES ($1, $2)",
                          pg::Params().int64(static_cast<int64_t>(i + 1)).text((*lines)[i]),
                          "copy the audit chain into");
          if (!r) return tl::unexpected(r.error());
        }
        // Nothing may have been appended to the file since it was read.
        auto again = AuditLog::verify(report.audit_from);
        if (!again || again->lines != log->lines || again->head != log->head) {
          return fail(ErrorKind::conflict, "audit log " + report.audit_from +
                                               " changed during the copy: stop every hwca "
                                               "serve using the home, then run again");
        }
        return {};
      },
      "copy the home into");
  if (!copied) return wrap(copied.error(), "nothing migrated");
  report.audit_lines = log->lines;
  report.audit_head = log->head;
  if (auto ok = check_copy(url, report, c); !ok) return tl::unexpected(ok.error());

  // The copy stands: say so in the chain, then point the home at the database.
  nlohmann::json counts = nlohmann::json::object();
  for (const auto& [table, n] : report.rows) counts[table] = n;
  PgAuditTrail trail(url);
  if (auto ok = trail.append("db.migrated", {{"from", report.from},
                                             {"audit_lines", report.audit_lines},
                                             {"rows", counts},
                                             {"by", requester}});
      !ok) {
    return wrap(ok.error(), "copied and checked, but the home still uses its SQLite file");
  }
  Config switched = config;
  switched.database = url;
  switched.cas.clear();  // the database's now
  if (auto ok = home.save(switched); !ok) {
    return wrap(ok.error(), "copied and checked, but config.yaml does not name the database");
  }
  if (auto ok = home.adopt_shared(*cas, *name); !ok) return tl::unexpected(ok.error());
  return report;
}

}  // namespace hwca::ca
