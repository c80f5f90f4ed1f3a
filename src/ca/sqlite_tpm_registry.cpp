// SqliteIssuanceStore as a TpmRegistry: nodes' EKs and the EK roots, in the tables of schema
// version 4, with the nodes' addresses from version 5 (sqlite_issuance_open.cpp). The table's
// constraints (node primary key, ek_sha256 unique) are what make a second TPM for a node, or an EK
// for a second node, a conflict.
#include <sqlite3.h>

#include <algorithm>
#include <set>

#include "ca/address_list.hpp"
#include "ca/bootstrap_token.hpp"
#include "ca/san.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "ca/sqlite_statement.hpp"
#include "common/text.hpp"

namespace hwca::ca {
namespace {

using sqlite::Stmt;
using sqlite::Txn;

constexpr int64_t kTpmRegistryVersion = 4;  // the first schema version with these tables
constexpr int64_t kAddressesVersion = 5;    // the first with node_tpms.addresses

std::string quoted(const std::string& text) { return "'" + printable(text) + "'"; }

bool sha256_hex(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Status check_tpm(const NodeTpm& t) {
  if (!valid_node_name(t.node)) {
    return fail(ErrorKind::usage, "node name " + quoted(t.node) + " is not an RFC 1123 subdomain");
  }
  if (!sha256_hex(t.ek_sha256)) {
    return fail(ErrorKind::usage,
                "node " + quoted(t.node) + ": the EK digest is not a SHA-256 in lower-case hex");
  }
  if (t.ek_kind != kEkKindCertificate && t.ek_kind != kEkKindPublicKey) {
    return fail(ErrorKind::usage, "node " + quoted(t.node) + ": EK kind " + quoted(t.ek_kind) +
                                      " is neither 'certificate' nor 'public-key'");
  }
  if (t.ek_der.empty()) {
    return fail(ErrorKind::usage, "node " + quoted(t.node) + ": no EK DER to register");
  }
  for (const auto& a : t.addresses) {
    if (canonical_ip(a) != a) {
      return fail(ErrorKind::usage, "node " + quoted(t.node) + ": address " + quoted(a) +
                                        " is not an IP address in canonical form");
    }
  }
  return {};
}

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
  std::set<std::string> nodes, eks;
  for (const auto& t : tpms) {
    if (auto ok = check_tpm(t); !ok) return ok;
    if (!nodes.insert(t.node).second) {
      return fail(ErrorKind::conflict,
                  "node " + quoted(t.node) + " appears twice; nothing was registered");
    }
    if (!eks.insert(t.ek_sha256).second) {
      return fail(ErrorKind::conflict, "the EK of node " + quoted(t.node) + " (SHA-256 " +
                                           t.ek_sha256 + ") appears twice; nothing was registered");
    }
  }
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
  const std::string none = tpms.size() > 1 ? "; nothing was registered" : "";
  for (const auto& t : tpms) {
    by_node.bind(":node", t.node);
    int rc = by_node.step();
    if (rc == SQLITE_ROW) {
      return fail(ErrorKind::conflict,
                  "node " + quoted(t.node) + " already has a TPM (EK SHA-256 " +
                      printable(by_node.text(0)) + "); unregister it first" + none);
    }
    if (rc != SQLITE_DONE) return db_error(rc, "register in");
    by_node.reset();
    by_ek.bind(":ek", t.ek_sha256);
    rc = by_ek.step();
    if (rc == SQLITE_ROW) {
      return fail(ErrorKind::conflict, "the EK with SHA-256 " + t.ek_sha256 +
                                           " is already registered for node " +
                                           quoted(by_ek.text(0)) + none);
    }
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
    return fail(ErrorKind::not_found, "node " + quoted(node) + " has no registered TPM");
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
  if (!sha256_hex(root.sha256)) {
    return fail(ErrorKind::usage,
                "EK root digest " + quoted(root.sha256) + " is not a SHA-256 in lower-case hex");
  }
  if (root.der.empty()) return fail(ErrorKind::usage, "EK root " + root.sha256 + " has no DER");
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
    return fail(ErrorKind::conflict,
                "EK root " + root.sha256 + " (" + printable(root.subject) + ") is already present");
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
    return fail(ErrorKind::not_found, "no EK root has SHA-256 " + quoted(sha256));
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
