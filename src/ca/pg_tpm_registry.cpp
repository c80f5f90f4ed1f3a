// PgIssuanceStore as a TpmRegistry: nodes' EKs and the EK roots. The table's constraints
// (node primary key, ek_sha256 unique) make a second TPM for a node, or an EK for a second
// node, a conflict even when two instances register at once.
#include "ca/address_list.hpp"
#include "ca/pg_connection.hpp"
#include "ca/pg_issuance_store.hpp"
#include "ca/store_rules.hpp"

namespace hwca::ca {
namespace {

using pg::Params;

#define HWCA_PG_TPM_COLUMNS \
  "node, ek_sha256, ek_kind, ek_der, registered_at, registered_by, addresses"
#define HWCA_PG_ROOT_COLUMNS "sha256, subject, anchor, der, added_at, added_by"

NodeTpm read_tpm(const pg::Rows& rows, int i) {
  NodeTpm t;
  t.node = rows.text(i, 0);
  t.ek_sha256 = rows.text(i, 1);
  t.ek_kind = rows.text(i, 2);
  t.ek_der = rows.bytes(i, 3);
  t.registered_at = rows.int64(i, 4);
  t.registered_by = rows.text(i, 5);
  // A damaged value reads as none (the safe side: no IP SAN is allowed).
  t.addresses = parse_addresses(rows.text(i, 6)).value_or(std::vector<std::string>{});
  return t;
}

EkRoot read_root(const pg::Rows& rows, int i) {
  EkRoot r;
  r.sha256 = rows.text(i, 0);
  r.subject = rows.text(i, 1);
  r.anchor = rows.boolean(i, 2);
  r.der = rows.bytes(i, 3);
  r.added_at = rows.int64(i, 4);
  r.added_by = rows.text(i, 5);
  return r;
}

}  // namespace

Status PgIssuanceStore::register_tpm(const NodeTpm& tpm) { return register_tpms({tpm}); }

Status PgIssuanceStore::register_tpms(const std::vector<NodeTpm>& tpms) {
  if (auto ok = rules::check_tpms(tpms); !ok) return ok;
  if (tpms.empty()) return {};
  if (auto w = writable(); !w) return w;
  const bool batch = tpms.size() > 1;
  return in_transaction("register in", [&](pg::Connection& c) -> Status {
    for (const auto& t : tpms) {
      // ON CONFLICT DO NOTHING: a row taken (now, or by an instance committing meanwhile)
      // leaves the statement's count at 0 instead of aborting the transaction; then say who
      // holds it.
      auto r = c.exec("INSERT INTO node_tpms (" HWCA_PG_TPM_COLUMNS
                      ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                      Params()
                          .text(t.node)
                          .text(t.ek_sha256)
                          .text(t.ek_kind)
                          .bytes(t.ek_der)
                          .int64(t.registered_at)
                          .text(t.registered_by)
                          .text(addresses_json(t.addresses)),
                      "register in");
      if (!r) return tl::unexpected(r.error());
      if (r->affected() == 1) continue;
      auto by_node = c.exec("SELECT ek_sha256 FROM node_tpms WHERE node = $1",
                            Params().text(t.node), "register in");
      if (!by_node) return tl::unexpected(by_node.error());
      if (by_node->size() == 1) return rules::node_has_tpm(t.node, by_node->text(0, 0), batch);
      auto by_ek = c.exec("SELECT node FROM node_tpms WHERE ek_sha256 = $1",
                          Params().text(t.ek_sha256), "register in");
      if (!by_ek) return tl::unexpected(by_ek.error());
      if (by_ek->size() == 1) return rules::ek_taken(t.ek_sha256, by_ek->text(0, 0), batch);
      return fail(ErrorKind::conflict, "node " + rules::quoted(t.node) +
                                           " could not be registered: another instance is "
                                           "registering it or its EK; try again");
    }
    return {};
  });
}

Status PgIssuanceStore::unregister_tpm(const std::string& node) {
  if (auto w = writable(); !w) return w;
  return in_transaction("unregister in", [&](pg::Connection& c) -> Status {
    auto r = c.exec("DELETE FROM node_tpms WHERE node = $1", Params().text(node), "unregister in");
    if (!r) return tl::unexpected(r.error());
    if (r->affected() == 0) return rules::no_tpm(node);
    return {};
  });
}

Result<std::optional<NodeTpm>> PgIssuanceStore::tpm(const std::string& node) {
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  auto rows = (*conn)->exec("SELECT " HWCA_PG_TPM_COLUMNS " FROM node_tpms WHERE node = $1",
                            Params().text(node), "read");
  if (!rows) return tl::unexpected(rows.error());
  if (rows->size() == 0) return std::optional<NodeTpm>{};
  return std::optional<NodeTpm>(read_tpm(*rows, 0));
}

Result<std::vector<NodeTpm>> PgIssuanceStore::tpms() {
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  auto rows = (*conn)->exec("SELECT " HWCA_PG_TPM_COLUMNS " FROM node_tpms ORDER BY node", "read");
  if (!rows) return tl::unexpected(rows.error());
  std::vector<NodeTpm> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(read_tpm(*rows, i));
  return out;
}

Status PgIssuanceStore::add_ek_root(const EkRoot& root) {
  if (auto ok = rules::check_ek_root(root); !ok) return ok;
  if (auto w = writable(); !w) return w;
  return in_transaction("add an EK root to", [&](pg::Connection& c) -> Status {
    auto r =
        c.exec("INSERT INTO ek_roots (" HWCA_PG_ROOT_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6)",
               Params()
                   .text(root.sha256)
                   .text(root.subject)
                   .text(root.anchor ? "true" : "false")
                   .bytes(root.der)
                   .int64(root.added_at)
                   .text(root.added_by),
               "add an EK root to");
    if (!r && c.last_sqlstate() == "23505") return rules::ek_root_exists(root);
    if (!r) return tl::unexpected(r.error());
    return {};
  });
}

Status PgIssuanceStore::remove_ek_root(const std::string& sha256) {
  if (auto w = writable(); !w) return w;
  return in_transaction("remove an EK root from", [&](pg::Connection& c) -> Status {
    auto r = c.exec("DELETE FROM ek_roots WHERE sha256 = $1", Params().text(sha256),
                    "remove an EK root from");
    if (!r) return tl::unexpected(r.error());
    if (r->affected() == 0) return rules::no_ek_root(sha256);
    return {};
  });
}

Result<std::vector<EkRoot>> PgIssuanceStore::ek_roots() {
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  auto rows = (*conn)->exec(
      "SELECT " HWCA_PG_ROOT_COLUMNS " FROM ek_roots ORDER BY added_at, sha256", "read");
  if (!rows) return tl::unexpected(rows.error());
  std::vector<EkRoot> out;
  for (int i = 0; i < rows->size(); ++i) out.push_back(read_root(*rows, i));
  return out;
}

#undef HWCA_PG_ROOT_COLUMNS
#undef HWCA_PG_TPM_COLUMNS

}  // namespace hwca::ca
