// SqliteIssuanceStore as a NodeRegistry: bootstrap tokens, in the table of schema version 2
// (sqlite_issuance_open.cpp); a node's registration is the last token it spent. Only the SHA-256 of
// a token's text is stored; addresses are JSON arrays of canonical IP address text.
#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "ca/address_list.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "ca/sqlite_statement.hpp"
#include "ca/store_rules.hpp"
#include "common/text.hpp"

namespace hwca::ca {
namespace {

using sqlite::Stmt;
using sqlite::Txn;

constexpr int64_t kRegistryVersion = 2;  // the first schema version with these tables

using rules::quoted;

#define HWCA_TOKEN_COLUMNS \
  "id, node, addresses, created_at, expires_at, created_by, used_at, revoked_at, secret_sha256"

// The columns of HWCA_TOKEN_COLUMNS as a BootstrapToken; nullopt if its addresses are
// damaged.
std::optional<BootstrapToken> read_token(const Stmt& s) {
  BootstrapToken t;
  t.id = s.text(0);
  t.node = s.text(1);
  auto addresses = parse_addresses(s.text(2));
  if (!addresses) return std::nullopt;
  t.addresses = std::move(*addresses);
  t.created_at = s.int64(3);
  t.expires_at = s.int64(4);
  t.created_by = s.text(5);
  t.used_at = s.is_null(6) ? 0 : s.int64(6);
  t.revoked_at = s.is_null(7) ? 0 : s.int64(7);
  return t;
}

}  // namespace

Status SqliteIssuanceStore::registry_writable(int64_t needed, const char* tables) {
  if (auto w = writable(); !w) return w;
  auto version = schema_version(db_.get());
  if (!version) return tl::unexpected(version.error());
  if (*version < needed) {  // opening a writable file upgrades it: not reached
    return fail(ErrorKind::internal, "issuance database " + printable(path_) +
                                         " has schema version " + std::to_string(*version) +
                                         ", without " + tables + "; open it again to upgrade");
  }
  return {};
}

Status SqliteIssuanceStore::add_token(const BootstrapToken& token, const Sha256& secret_sha256) {
  if (auto ok = rules::check_new_token(token); !ok) return ok;
  std::lock_guard lock(mu_);
  sqlite3* db = db_.get();
  Txn txn(db);
  if (auto w = registry_writable(); !w) return w;
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) {
    return db_error(rc, "add a bootstrap token to");
  }
  Stmt insert(db,
              "INSERT INTO bootstrap_tokens (id, node, secret_sha256, addresses, created_at, "
              "expires_at, created_by, used_at, revoked_at) VALUES (:id, :node, :hash, "
              ":addresses, :created_at, :expires_at, :created_by, :used_at, :revoked_at)");
  insert.bind(":id", token.id);
  insert.bind(":node", token.node);
  insert.bind(":hash", std::vector<uint8_t>(secret_sha256.begin(), secret_sha256.end()));
  insert.bind(":addresses", addresses_json(token.addresses));
  insert.bind(":created_at", token.created_at);
  insert.bind(":expires_at", token.expires_at);
  insert.bind(":created_by", token.created_by);
  if (token.used_at != 0) {
    insert.bind(":used_at", token.used_at);
  } else {
    insert.bind_null(":used_at");
  }
  if (token.revoked_at != 0) {
    insert.bind(":revoked_at", token.revoked_at);
  } else {
    insert.bind_null(":revoked_at");
  }
  int rc = insert.step();
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return rules::token_exists(token.id);
  }
  if (rc != SQLITE_DONE) return db_error(rc, "add a bootstrap token to");
  if (rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "add a bootstrap token to");
  return {};
}

Result<std::vector<BootstrapToken>> SqliteIssuanceStore::tokens() {
  auto r = reader();
  sqlite3* db = r.db;
  Txn txn(db);  // one snapshot for the version and the rows
  if (int rc = txn.begin(/*write=*/false); rc != SQLITE_OK) return db_error(rc, "read", db);
  auto version = schema_version(db);
  if (!version) return tl::unexpected(version.error());
  if (*version < kRegistryVersion) return std::vector<BootstrapToken>{};
  Stmt rows(db, "SELECT " HWCA_TOKEN_COLUMNS " FROM bootstrap_tokens ORDER BY created_at, id");
  std::vector<BootstrapToken> out;
  int rc;
  while ((rc = rows.step()) == SQLITE_ROW) {
    auto t = read_token(rows);
    if (!t) {
      return rules::damaged(path_, "damaged addresses for bootstrap token " + quoted(rows.text(0)));
    }
    out.push_back(std::move(*t));
  }
  if (rc != SQLITE_DONE) return db_error(rc, "read", db);
  return out;
}

Status SqliteIssuanceStore::revoke_token(const std::string& id, int64_t when) {
  std::lock_guard lock(mu_);
  sqlite3* db = db_.get();
  Txn txn(db);
  if (auto w = registry_writable(); !w) return w;
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) {
    return db_error(rc, "revoke a bootstrap token in");
  }
  Stmt find(db, "SELECT used_at, revoked_at FROM bootstrap_tokens WHERE id = :id");
  find.bind(":id", id);
  int rc = find.step();
  if (rc == SQLITE_DONE) {
    return rules::unknown_token(id);
  }
  if (rc != SQLITE_ROW) return db_error(rc, "revoke a bootstrap token in");
  if (auto ok = rules::check_revocable(id, find.is_null(0) ? 0 : find.int64(0),
                                       find.is_null(1) ? 0 : find.int64(1));
      !ok) {
    return ok;
  }
  Stmt update(db, "UPDATE bootstrap_tokens SET revoked_at = :when WHERE id = :id");
  update.bind(":when", when);
  update.bind(":id", id);
  if (rc = update.step(); rc != SQLITE_DONE) return db_error(rc, "revoke a bootstrap token in");
  if (rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "revoke a bootstrap token in");
  return {};
}

// The checks run in this order: the id, then the secret, and only then the node, use,
// revocation and expiry, so that these are told only to one who holds the token's text.
Result<BootstrapToken> SqliteIssuanceStore::claim_token(const std::string& id,
                                                        const std::string& node,
                                                        const Sha256& secret_sha256, int64_t now) {
  std::lock_guard lock(mu_);
  sqlite3* db = db_.get();
  Txn txn(db);
  if (auto w = registry_writable(); !w) return tl::unexpected(w.error());
  // The write lock is taken before the token is read: a second claim waits for the first
  // to commit and then sees the token used.
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) {
    return db_error(rc, "claim a bootstrap token in");
  }
  Stmt find(db, "SELECT " HWCA_TOKEN_COLUMNS " FROM bootstrap_tokens WHERE id = :id");
  find.bind(":id", id);
  int rc = find.step();
  if (rc == SQLITE_DONE) return rules::unknown_token(id, ErrorKind::auth);
  if (rc != SQLITE_ROW) return db_error(rc, "claim a bootstrap token in");
  if (auto ok = rules::check_secret(id, find.blob(8), secret_sha256, path_); !ok) {
    return tl::unexpected(ok.error());
  }
  auto token = read_token(find);
  if (!token) return rules::damaged(path_, "damaged addresses for bootstrap token " + quoted(id));
  if (auto ok = rules::check_claimable(*token, node, now); !ok) return tl::unexpected(ok.error());
  find.reset();

  Stmt use(db, "UPDATE bootstrap_tokens SET used_at = :now WHERE id = :id AND used_at IS NULL");
  use.bind(":now", now);
  use.bind(":id", id);
  if (rc = use.step(); rc != SQLITE_DONE) return db_error(rc, "claim a bootstrap token in");
  if (sqlite3_changes(db) != 1) {  // cannot happen under the write lock
    return fail(ErrorKind::internal, "bootstrap token " + quoted(id) + " changed while claimed");
  }
  if (rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "claim a bootstrap token in");
  token->used_at = now;
  return std::move(*token);
}

Status SqliteIssuanceStore::unclaim_token(const std::string& id) {
  std::lock_guard lock(mu_);
  sqlite3* db = db_.get();
  Txn txn(db);
  if (auto w = registry_writable(); !w) return w;
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) {
    return db_error(rc, "give back a bootstrap token in");
  }
  Stmt update(db, "UPDATE bootstrap_tokens SET used_at = NULL WHERE id = :id");
  update.bind(":id", id);
  int rc = update.step();
  if (rc != SQLITE_DONE) return db_error(rc, "give back a bootstrap token in");
  if (sqlite3_changes(db) == 0) {
    return rules::unknown_token(id);
  }
  if (rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "give back a bootstrap token in");
  return {};
}

Result<std::optional<NodeRecord>> SqliteIssuanceStore::node(const std::string& name) {
  auto r = reader();
  sqlite3* db = r.db;
  Txn txn(db);
  if (int rc = txn.begin(/*write=*/false); rc != SQLITE_OK) return db_error(rc, "read", db);
  auto version = schema_version(db, r.stmts);
  if (!version) return tl::unexpected(version.error());
  if (*version < kRegistryVersion) return std::optional<NodeRecord>{};
  // The node's registration is the last token it spent.
  Stmt find(*r.stmts, db,
            "SELECT node, addresses, used_at FROM bootstrap_tokens "
            "WHERE node = :name AND used_at IS NOT NULL ORDER BY used_at DESC, rowid DESC LIMIT 1");
  find.bind(":name", name);
  int rc = find.step();
  if (rc == SQLITE_DONE) return std::optional<NodeRecord>{};
  if (rc != SQLITE_ROW) return db_error(rc, "read", db);
  NodeRecord record;
  record.name = find.text(0);
  auto addresses = parse_addresses(find.text(1));
  if (!addresses) {
    return rules::damaged(path_, "damaged addresses for node " + quoted(name));
  }
  record.addresses = std::move(*addresses);
  record.enrolled_at = find.int64(2);
  return std::optional<NodeRecord>(std::move(record));
}

#undef HWCA_TOKEN_COLUMNS

}  // namespace hwca::ca
