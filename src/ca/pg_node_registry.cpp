// PgIssuanceStore as a NodeRegistry: bootstrap tokens (only the SHA-256 of a token's text is
// stored); a node's registration is the last token it spent. A claim locks the token's row
// (SELECT ... FOR UPDATE), so that of two instances claiming one token the second waits for
// the first to commit, then sees it used; the update that spends it is conditional too and
// its row count checked.
#include "ca/address_list.hpp"
#include "ca/pg_connection.hpp"
#include "ca/pg_issuance_store.hpp"
#include "ca/store_rules.hpp"

namespace hwca::ca {
namespace {

using pg::Params;
using rules::quoted;

#define HWCA_PG_TOKEN_COLUMNS \
  "id, node, addresses, created_at, expires_at, created_by, used_at, revoked_at, secret_sha256"

// Row `i` as a BootstrapToken; nullopt if its addresses are damaged.
std::optional<BootstrapToken> read_token(const pg::Rows& rows, int i) {
  BootstrapToken t;
  t.id = rows.text(i, 0);
  t.node = rows.text(i, 1);
  auto addresses = parse_addresses(rows.text(i, 2));
  if (!addresses) return std::nullopt;
  t.addresses = std::move(*addresses);
  t.created_at = rows.int64(i, 3);
  t.expires_at = rows.int64(i, 4);
  t.created_by = rows.text(i, 5);
  t.used_at = rows.int64(i, 6);
  t.revoked_at = rows.int64(i, 7);
  return t;
}

}  // namespace

Status PgIssuanceStore::add_token(const BootstrapToken& token, const Sha256& secret_sha256) {
  if (auto ok = rules::check_new_token(token); !ok) return ok;
  if (auto w = writable(); !w) return w;
  return in_transaction("add a bootstrap token to", [&](pg::Connection& c) -> Status {
    auto r = c.exec(
        "INSERT INTO bootstrap_tokens (id, node, secret_sha256, addresses, created_at, "
        "expires_at, created_by, used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        Params()
            .text(token.id)
            .text(token.node)
            .bytes(std::vector<uint8_t>(secret_sha256.begin(), secret_sha256.end()))
            .text(addresses_json(token.addresses))
            .int64(token.created_at)
            .int64(token.expires_at)
            .text(token.created_by)
            .int64_or_null(token.used_at)
            .int64_or_null(token.revoked_at),
        "add a bootstrap token to");
    if (!r && c.last_sqlstate() == "23505") return rules::token_exists(token.id);
    if (!r) return tl::unexpected(r.error());
    return {};
  });
}

Result<std::vector<BootstrapToken>> PgIssuanceStore::tokens() {
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  auto rows = (*conn)->exec(
      "SELECT " HWCA_PG_TOKEN_COLUMNS " FROM bootstrap_tokens ORDER BY created_at, id", "read");
  if (!rows) return tl::unexpected(rows.error());
  std::vector<BootstrapToken> out;
  for (int i = 0; i < rows->size(); ++i) {
    auto t = read_token(*rows, i);
    if (!t) {
      return rules::damaged(name_,
                            "damaged addresses for bootstrap token " + quoted(rows->text(i, 0)));
    }
    out.push_back(std::move(*t));
  }
  return out;
}

Status PgIssuanceStore::revoke_token(const std::string& id, int64_t when) {
  if (auto w = writable(); !w) return w;
  return in_transaction("revoke a bootstrap token in", [&](pg::Connection& c) -> Status {
    auto found = c.exec("SELECT used_at, revoked_at FROM bootstrap_tokens WHERE id = $1 FOR UPDATE",
                        Params().text(id), "revoke a bootstrap token in");
    if (!found) return tl::unexpected(found.error());
    if (found->size() == 0) return rules::unknown_token(id);
    if (auto ok = rules::check_revocable(id, found->int64(0, 0), found->int64(0, 1)); !ok) {
      return ok;
    }
    auto r = c.exec("UPDATE bootstrap_tokens SET revoked_at = $2 WHERE id = $1",
                    Params().text(id).int64(when), "revoke a bootstrap token in");
    if (!r) return tl::unexpected(r.error());
    return {};
  });
}

// The checks run in this order: the id, then the secret, and only then the node, use,
// revocation and expiry, so that these are told only to one who holds the token's text.
Result<BootstrapToken> PgIssuanceStore::claim_token(const std::string& id, const std::string& node,
                                                    const Sha256& secret_sha256, int64_t now) {
  if (auto w = writable(); !w) return tl::unexpected(w.error());
  BootstrapToken claimed;
  auto done = in_transaction("claim a bootstrap token in", [&](pg::Connection& c) -> Status {
    auto found =
        c.exec("SELECT " HWCA_PG_TOKEN_COLUMNS " FROM bootstrap_tokens WHERE id = $1 FOR UPDATE",
               Params().text(id), "claim a bootstrap token in");
    if (!found) return tl::unexpected(found.error());
    if (found->size() == 0) return rules::unknown_token(id, ErrorKind::auth);
    if (auto ok = rules::check_secret(id, found->bytes(0, 8), secret_sha256, name_); !ok) {
      return ok;
    }
    auto token = read_token(*found, 0);
    if (!token) return rules::damaged(name_, "damaged addresses for bootstrap token " + quoted(id));
    if (auto ok = rules::check_claimable(*token, node, now); !ok) return ok;
    auto use = c.exec("UPDATE bootstrap_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL",
                      Params().text(id).int64(now), "claim a bootstrap token in");
    if (!use) return tl::unexpected(use.error());
    if (use->affected() != 1) {  // cannot happen under the row's lock
      return fail(ErrorKind::auth, "bootstrap token " + quoted(id) + " was already used");
    }
    token->used_at = now;
    claimed = std::move(*token);
    return {};
  });
  if (!done) return tl::unexpected(done.error());
  return claimed;
}

Status PgIssuanceStore::unclaim_token(const std::string& id) {
  if (auto w = writable(); !w) return w;
  return in_transaction("give back a bootstrap token in", [&](pg::Connection& c) -> Status {
    auto r = c.exec("UPDATE bootstrap_tokens SET used_at = NULL WHERE id = $1", Params().text(id),
                    "give back a bootstrap token in");
    if (!r) return tl::unexpected(r.error());
    if (r->affected() == 0) return rules::unknown_token(id);
    return {};
  });
}

Result<std::optional<NodeRecord>> PgIssuanceStore::node(const std::string& name) {
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  // The node's registration is the last token it spent.
  auto rows = (*conn)->exec(
      "SELECT node, addresses, used_at FROM bootstrap_tokens WHERE node = $1 AND used_at IS NOT "
      "NULL ORDER BY used_at DESC, seq DESC LIMIT 1",
      Params().text(name), "read");
  if (!rows) return tl::unexpected(rows.error());
  if (rows->size() == 0) return std::optional<NodeRecord>{};
  NodeRecord record;
  record.name = rows->text(0, 0);
  auto addresses = parse_addresses(rows->text(0, 1));
  if (!addresses) return rules::damaged(name_, "damaged addresses for node " + quoted(name));
  record.addresses = std::move(*addresses);
  record.enrolled_at = rows->int64(0, 2);
  return std::optional<NodeRecord>(std::move(record));
}

#undef HWCA_PG_TOKEN_COLUMNS

}  // namespace hwca::ca
