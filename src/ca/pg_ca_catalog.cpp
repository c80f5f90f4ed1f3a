// PgIssuanceStore as a CaCatalog: table ca_definitions (pg_schema.cpp). The name is the
// primary key: of two instances making a CA of one name, one publishes it and the other is
// refused.
#include "ca/pg_connection.hpp"
#include "ca/pg_issuance_store.hpp"
#include "ca/store_rules.hpp"

namespace hwca::ca {

using pg::Params;

Result<std::vector<SharedCa>> PgIssuanceStore::shared_cas() {
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  auto rows = (*conn)->exec(
      "SELECT name, entry, cert_pem, created_at, created_by FROM ca_definitions ORDER BY name",
      "read");
  if (!rows) return tl::unexpected(rows.error());
  std::vector<SharedCa> out;
  for (int i = 0; i < rows->size(); ++i) {
    out.push_back(SharedCa{rows->text(i, 0), rows->text(i, 1), rows->text(i, 2), rows->int64(i, 3),
                           rows->text(i, 4)});
  }
  return out;
}

Status PgIssuanceStore::insert_ca(pg::Connection& c, const SharedCa& ca,
                                  const std::string& database) {
  auto r = c.exec(
      "INSERT INTO ca_definitions (name, entry, cert_pem, created_at, created_by) "
      "VALUES ($1, $2, $3, $4, $5)",
      Params()
          .text(ca.name)
          .text(ca.entry_yaml)
          .text(ca.cert_pem)
          .int64(ca.created_at)
          .text(ca.created_by),
      "add a CA to");
  if (!r && c.last_sqlstate() == "23505") {
    return fail(ErrorKind::conflict, "issuance database " + database + " holds a CA named " +
                                         rules::quoted(ca.name) +
                                         " already (made by another instance?)");
  }
  if (!r) return tl::unexpected(r.error());
  return {};
}

Status PgIssuanceStore::publish_ca(const SharedCa& ca) {
  if (auto w = writable(); !w) return w;
  return in_transaction("add a CA to",
                        [&](pg::Connection& c) -> Status { return insert_ca(c, ca, name_); });
}

Status PgIssuanceStore::withdraw_ca(const std::string& name) {
  if (auto w = writable(); !w) return w;
  return in_transaction("remove a CA from", [&](pg::Connection& c) -> Status {
    auto r = c.exec("DELETE FROM ca_definitions WHERE name = $1", Params().text(name),
                    "remove a CA from");
    if (!r) return tl::unexpected(r.error());
    if (r->affected() == 0) {
      return fail(ErrorKind::not_found,
                  "issuance database " + name_ + " holds no CA named " + rules::quoted(name));
    }
    return {};
  });
}

}  // namespace hwca::ca
