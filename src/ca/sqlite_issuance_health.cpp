// SqliteIssuanceStore: the cheap reads a server makes about the database itself (is it
// readable, does it hold anything yet), beside the records' own reads.
#include <sqlite3.h>

#include "ca/sqlite_issuance_store.hpp"
#include "ca/sqlite_statement.hpp"

namespace hwca::ca {

using sqlite::Stmt;

// One row of the certificates' table: reads the schema and a page of the table, so a file
// emptied, replaced or damaged under a running server fails here.
Status SqliteIssuanceStore::ping() {
  auto r = reader();
  Stmt s(*r.stmts, r.db, "SELECT count(*) FROM (SELECT 1 FROM certs LIMIT 1)");
  int rc = s.step();
  if (rc != SQLITE_ROW) return db_error(rc, "read", r.db);
  return {};
}

Result<bool> SqliteIssuanceStore::holds_records() {
  auto r = reader();
  auto version = schema_version(r.db, r.stmts);
  if (!version) return tl::unexpected(version.error());
  // An older file (opened read-only) lacks the later tables: a version-1 file has no
  // bootstrap tokens, one before version 4 no TPM registry.
  const char* sql = *version >= 4   ? "SELECT EXISTS (SELECT 1 FROM certs) OR "
                                      "EXISTS (SELECT 1 FROM bootstrap_tokens) OR "
                                      "EXISTS (SELECT 1 FROM node_tpms) OR "
                                      "EXISTS (SELECT 1 FROM ek_roots)"
                    : *version >= 2 ? "SELECT EXISTS (SELECT 1 FROM certs) OR "
                                      "EXISTS (SELECT 1 FROM bootstrap_tokens)"
                                    : "SELECT EXISTS (SELECT 1 FROM certs)";
  Stmt s(*r.stmts, r.db, sql);
  int rc = s.step();
  if (rc != SQLITE_ROW) return db_error(rc, "read", r.db);
  return s.int64(0) != 0;
}

}  // namespace hwca::ca
