// SqliteIssuanceStore as a TpmRegistry: nodes' EKs and the EK roots, in the tables of schema
// version 4, with the nodes' addresses from version 5 (sqlite_issuance_open.cpp). The table's
// constraints (node primary key, ek_sha256 unique) are what make a second TPM for a node, or an EK
// for a second node, a conflict.
#include <sqlite3.h>

#include "ca/address_list.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "ca/sqlite_statement.hpp"
#include "ca/store_rules.hpp"
#include "common/text.hpp"

namespace hwca::ca {
namespace {

using sqlite::Stmt;
using sqlite::Txn;

constexpr int64_t kTpmRegistryVersion = 4;  // the first schema version with these tables
constexpr int64_t kAddressesVersion = 5;    // the first with node_tpms.addresses

#define HWCA_TPM_COLUMNS_V4 "node, ek_sha256, ek_kind, ek_der, registered_at, registered_by"
#define HWCA_TPM_COLUMNS HWCA_TPM_COLUMNS_V4 ", addresses"
#define HWCA_ROOT_COLUMNS "sha256, subject, anchor, der, added_at, added_by"

NodeTpm read_tpm(const Stmt& s) {
  NodeTpm t;
  t.node = s.text(0);
  t.ek_sha256 = s.text(1);
  t.ek_kind = s.text(2);
  t.ek_der = s.blob(3);
  t.registered_at = s.int64(4);
  t.registered_by = s.text(5);
  // A version-4 file has no addresses column: its rows read as none. A damaged value reads
  // as none too (the safe side: no IP SAN is allowed).
  if (s.columns() > 6)
    t.addresses = parse_addresses(s.text(6)).value_or(std::vector<std::string>{});
  return t;
}

EkRoot read_root(const Stmt& s) {
  EkRoot r;
  r.sha256 = s.text(0);
  r.subject = s.text(1);
  r.anchor = s.int64(2) != 0;
  r.der = s.blob(3);
  r.added_at = s.int64(4);
  r.added_by = s.text(5);
  return r;
}

}  // namespace

Status SqliteIssuanceStore::register_tpm(const NodeTpm& tpm) { return register_tpms({tpm}); }

Status SqliteIssuanceStore::register_tpms(const std::vector<NodeTpm>& tpms) {
  if (auto ok = rules::check_tpms(tpms); !ok) return ok;
  if (tpms.empty()) return {};
  std::lock_guard lock(mu_);
  sqlite3* db = db_.get();
  Txn txn(db);
  if (auto w = registry_writable(kTpmRegistryVersion, "the TPM registry"); !w) return w;
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) return db_error(rc, "register in");
  Stmt by_node(db, "SELECT ek_sha256 FROM node_tpms WHERE node = :node");
  Stmt by_ek(db, "SELECT node FROM node_tpms WHERE ek_sha256 = :ek");
  Stmt insert(db, "INSERT INTO node_tpms (" HWCA_TPM_COLUMNS
                  ") VALUES (:node, :ek, :kind, :der, :at, :by, :addresses)");
  const bool batch = tpms.size() > 1;
  for (const auto& t : tpms) {
    by_node.bind(":node", t.node);
    int rc = by_node.step();
    if (rc == SQLITE_ROW) return rules::node_has_tpm(t.node, by_node.text(0), batch);
    if (rc != SQLITE_DONE) return db_error(rc, "register in");
    by_node.reset();
    by_ek.bind(":ek", t.ek_sha256);
    rc = by_ek.step();
    if (rc == SQLITE_ROW) return rules::ek_taken(t.ek_sha256, by_ek.text(0), batch);
    if (rc != SQLITE_DONE) return db_error(rc, "register in");
    by_ek.reset();
    insert.bind(":node", t.node);
    insert.bind(":ek", t.ek_sha256);
    insert.bind(":kind", t.ek_kind);
    insert.bind(":der", t.ek_der);
    insert.bind(":at", t.registered_at);
    insert.bind(":by", t.registered_by);
    insert.bind(":addresses", addresses_json(t.addresses));
    if (rc = insert.step(); rc != SQLITE_DONE) return db_error(rc, "register in");
    insert.reset();
  }
  if (int rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "register in");
  return {};
}

Status SqliteIssuanceStore::unregister_tpm(const std::string& node) {
  std::lock_guard lock(mu_);
  sqlite3* db = db_.get();
  Txn txn(db);
  if (auto w = registry_writable(kTpmRegistryVersion, "the TPM registry"); !w) return w;
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) return db_error(rc, "unregister in");
  Stmt remove(db, "DELETE FROM node_tpms WHERE node = :node");
  remove.bind(":node", node);
  if (int rc = remove.step(); rc != SQLITE_DONE) return db_error(rc, "unregister in");
  if (sqlite3_changes(db) == 0) {
    return rules::no_tpm(node);
  }
  if (int rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "unregister in");
  return {};
}

Result<std::optional<NodeTpm>> SqliteIssuanceStore::tpm(const std::string& node) {
  auto found = read_all("SELECT " HWCA_TPM_COLUMNS " FROM node_tpms WHERE node = :node", read_tpm,
                        &node, "SELECT " HWCA_TPM_COLUMNS_V4 " FROM node_tpms WHERE node = :node");
  if (!found) return tl::unexpected(found.error());
  if (found->empty()) return std::optional<NodeTpm>{};
  return std::optional<NodeTpm>(std::move(found->front()));
}

template <typename Row>
Result<std::vector<Row>> SqliteIssuanceStore::read_all(const char* sql,
                                                       Row (*read)(const sqlite::Stmt&),
                                                       const std::string* node,
                                                       const char* sql_v4) {
  auto r = reader();
  sqlite3* db = r.db;
  Txn txn(db);  // one snapshot for the version and the rows
  if (int rc = txn.begin(/*write=*/false); rc != SQLITE_OK) return db_error(rc, "read", db);
  auto version = schema_version(db, r.stmts);
  if (!version) return tl::unexpected(version.error());
  if (*version < kTpmRegistryVersion) return std::vector<Row>{};
  if (*version < kAddressesVersion && sql_v4 != nullptr) sql = sql_v4;
  Stmt rows(*r.stmts, db, sql);  // kept prepared: round 1 of every attestation reads here
  if (node != nullptr) rows.bind(":node", *node);
  std::vector<Row> out;
  int rc;
  while ((rc = rows.step()) == SQLITE_ROW) out.push_back(read(rows));
  if (rc != SQLITE_DONE) return db_error(rc, "read", db);
  return out;
}

Result<std::vector<NodeTpm>> SqliteIssuanceStore::tpms() {
  return read_all("SELECT " HWCA_TPM_COLUMNS " FROM node_tpms ORDER BY node", read_tpm, nullptr,
                  "SELECT " HWCA_TPM_COLUMNS_V4 " FROM node_tpms ORDER BY node");
}

Status SqliteIssuanceStore::add_ek_root(const EkRoot& root) {
  if (auto ok = rules::check_ek_root(root); !ok) return ok;
  std::lock_guard lock(mu_);
  sqlite3* db = db_.get();
  Txn txn(db);
  if (auto w = registry_writable(kTpmRegistryVersion, "the TPM registry"); !w) return w;
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) {
    return db_error(rc, "add an EK root to");
  }
  Stmt insert(db, "INSERT INTO ek_roots (" HWCA_ROOT_COLUMNS
                  ") VALUES (:sha256, :subject, :anchor, :der, :at, :by)");
  insert.bind(":sha256", root.sha256);
  insert.bind(":subject", root.subject);
  insert.bind(":anchor", int64_t{root.anchor ? 1 : 0});
  insert.bind(":der", root.der);
  insert.bind(":at", root.added_at);
  insert.bind(":by", root.added_by);
  int rc = insert.step();
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return rules::ek_root_exists(root);
  }
  if (rc != SQLITE_DONE) return db_error(rc, "add an EK root to");
  if (rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "add an EK root to");
  return {};
}

Status SqliteIssuanceStore::remove_ek_root(const std::string& sha256) {
  std::lock_guard lock(mu_);
  sqlite3* db = db_.get();
  Txn txn(db);
  if (auto w = registry_writable(kTpmRegistryVersion, "the TPM registry"); !w) return w;
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) {
    return db_error(rc, "remove an EK root from");
  }
  Stmt remove(db, "DELETE FROM ek_roots WHERE sha256 = :sha256");
  remove.bind(":sha256", sha256);
  if (int rc = remove.step(); rc != SQLITE_DONE) return db_error(rc, "remove an EK root from");
  if (sqlite3_changes(db) == 0) {
    return rules::no_ek_root(sha256);
  }
  if (int rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "remove an EK root from");
  return {};
}

Result<std::vector<EkRoot>> SqliteIssuanceStore::ek_roots() {
  return read_all("SELECT " HWCA_ROOT_COLUMNS " FROM ek_roots ORDER BY added_at, sha256",
                  read_root);
}

#undef HWCA_ROOT_COLUMNS
#undef HWCA_TPM_COLUMNS
#undef HWCA_TPM_COLUMNS_V4

}  // namespace hwca::ca
