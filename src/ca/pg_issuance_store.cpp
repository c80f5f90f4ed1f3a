// PgIssuanceStore: the certificates' queries (record, find, list, revoke, CRL numbers);
// opening and the schema are in pg_schema.cpp. The checks and messages are store_rules'.
#include "ca/pg_issuance_store.hpp"

#include <ctime>
#include <set>

#include "ca/address_list.hpp"
#include "ca/pg_audit_trail.hpp"
#include "ca/pg_connection.hpp"
#include "ca/store_rules.hpp"

namespace hwca::ca {
namespace {

using pg::Params;
using rules::serial_key;

// The columns read_cert() reads, in its order; the DER is the last (empty when not wanted).
#define HWCA_PG_CERT_COLUMNS                                                           \
  "ca, serial, profile, subject, sans, not_before, not_after, requester, revoked_at, " \
  "revocation_reason, renewed_from, spki_sha256, attest_ek_sha256, attest_ak_name, "   \
  "attest_key_name, id"
const char* const kSelect = "SELECT " HWCA_PG_CERT_COLUMNS ", der FROM certs";
const char* const kSelectNoDer = "SELECT " HWCA_PG_CERT_COLUMNS ", ''::bytea FROM certs";
const char* const kRevokeOne =
    "UPDATE certs SET revoked_at = $2, revocation_reason = $3 "
    "WHERE id = $1 AND revoked_at IS NULL RETURNING " HWCA_PG_CERT_COLUMNS ", ''::bytea";
#undef HWCA_PG_CERT_COLUMNS

IssuedCert read_cert(const pg::Rows& rows, int i) {
  IssuedCert c;
  c.ca = rows.text(i, 0);
  c.serial = rows.text(i, 1);
  c.profile = rows.text(i, 2);
  c.subject = rows.text(i, 3);
  c.sans = parse_addresses(rows.text(i, 4)).value_or(std::vector<std::string>{});
  c.not_before = rows.int64(i, 5);
  c.not_after = rows.int64(i, 6);
  c.requester = rows.text(i, 7);
  c.revoked = !rows.null(i, 8);
  c.revoked_at = rows.int64(i, 8);
  c.revocation_reason = static_cast<int>(rows.int64(i, 9));
  c.renewed_from = rows.text(i, 10);
  c.spki_sha256 = rows.text(i, 11);
  c.attest_ek_sha256 = rows.text(i, 12);
  c.attest_ak_name = rows.text(i, 13);
  c.attest_key_name = rows.text(i, 14);
  c.der = rows.bytes(i, 16);
  return c;
}

std::vector<IssuedCert> read_certs(const pg::Rows& rows) {
  std::vector<IssuedCert> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) out.push_back(read_cert(rows, i));
  return out;
}

}  // namespace

Result<std::vector<IssuedCert>> PgIssuanceStore::query(pg::Connection& conn, const char* sql,
                                                       const pg::Params& params) {
  auto rows = conn.exec(sql, params, "read");
  if (!rows) return tl::unexpected(rows.error());
  return read_certs(*rows);
}

Result<bool> PgIssuanceStore::serial_exists(const std::string& ca, const std::string& serial) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  auto rows = (*conn)->exec("SELECT 1 FROM certs WHERE ca = $1 AND serial = $2",
                            Params().text(ca).text(*key), "read");
  if (!rows) return tl::unexpected(rows.error());
  return rows->size() > 0;
}

Result<std::vector<std::string>> PgIssuanceStore::reserve_serials(
    const std::string& ca, const std::vector<std::string>& serials) {
  if (auto ok = rules::check_reservation(ca, serials); !ok) return tl::unexpected(ok.error());
  std::vector<std::string> taken;
  if (serials.empty()) return taken;
  if (auto w = writable(); !w) return tl::unexpected(w.error());
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  // One statement for the batch (4096 round trips took a request seconds).
  pg::ArrayText array;
  for (const auto& s : serials) array.text(s);
  auto done = in_transaction("reserve serials in", [&](pg::Connection& c) -> Status {
    // The primary key makes a serial another instance reserves meanwhile wait for its
    // commit, then count as taken.
    auto r = c.exec(
        "INSERT INTO serial_reservations (ca, serial, reserved_at) "
        "SELECT $1, s, $3 FROM unnest($2::text[]) AS u(s) "
        "WHERE NOT EXISTS (SELECT 1 FROM certs WHERE ca = $1 AND serial = s) "
        "ON CONFLICT DO NOTHING RETURNING serial",
        Params().text(ca).text(array.str()).int64(now), "reserve serials in");
    if (!r) return tl::unexpected(r.error());
    std::set<std::string> got;
    for (int i = 0; i < r->size(); ++i) got.insert(r->text(i, 0));
    taken.clear();  // a retried transaction starts again
    for (const auto& s : serials) {
      if (got.erase(s) != 0) taken.push_back(s);  // once, if given twice
    }
    return {};
  });
  if (!done) return tl::unexpected(done.error());
  return taken;
}

Status PgIssuanceStore::insert_certs(pg::Connection& c, const std::vector<IssuedCert>& batch) {
  // One statement of one shape for a group commit's batch, whatever its size: a column an
  // array. A serial the CA used already is left out by ON CONFLICT and named from what came
  // back; the caller's transaction then rolls the rest back.
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  constexpr size_t kColumns = 17;  // as listed in the INSERT below, in that order
  std::vector<pg::ArrayText> col(kColumns);
  for (const auto& cert : batch) {
    size_t k = 0;
    auto next = [&]() -> pg::ArrayText& { return col[k++]; };
    next().text(cert.ca);
    next().text(cert.serial);
    next().text(cert.profile);
    next().text(cert.subject);
    next().text(addresses_json(cert.sans));
    next().int64(cert.not_before);
    next().int64(cert.not_after);
    next().text(cert.requester);
    next().bytes(cert.der);
    if (cert.revoked) {
      next().int64(cert.revoked_at);
      next().int64(cert.revocation_reason);
    } else {
      next().null();
      next().null();
    }
    next().int64(now);
    next().text_or_null(cert.renewed_from);
    next().text_or_null(rules::spki_of(cert));
    next().text_or_null(cert.attest_ek_sha256);
    next().text_or_null(cert.attest_ak_name);
    next().text_or_null(cert.attest_key_name);
  }
  Params p;
  for (const auto& column : col) p.text(column.str());
  auto r = c.exec(
      "INSERT INTO certs (ca, serial, profile, subject, sans, not_before, not_after, requester, "
      "der, revoked_at, revocation_reason, recorded_at, renewed_from, spki_sha256, "
      "attest_ek_sha256, attest_ak_name, attest_key_name) SELECT * FROM unnest($1::text[], "
      "$2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], "
      "$9::bytea[], $10::bigint[], $11::integer[], $12::bigint[], $13::text[], $14::text[], "
      "$15::text[], $16::text[], $17::text[]) ON CONFLICT (ca, serial) DO NOTHING "
      "RETURNING ca, serial",
      p, "record in");
  if (!r) return tl::unexpected(r.error());
  if (r->size() != static_cast<int>(batch.size())) {
    std::set<std::pair<std::string, std::string>> inserted;
    for (int i = 0; i < r->size(); ++i) inserted.emplace(r->text(i, 0), r->text(i, 1));
    for (const auto& cert : batch) {
      if (inserted.count({cert.ca, cert.serial}) == 0) {
        return rules::serial_used(cert.ca, cert.serial);
      }
    }
  }
  return {};
}

Status PgIssuanceStore::record(const std::vector<IssuedCert>& batch) {
  if (auto ok = rules::check_batch(batch); !ok) return ok;
  if (batch.empty()) return {};
  if (auto w = writable(); !w) return w;
  return in_transaction("record in",
                        [&](pg::Connection& c) -> Status { return insert_certs(c, batch); });
}

tl::expected<void, IssuanceStore::AuditedRecordError> PgIssuanceStore::record_audited(
    const std::vector<IssuedCert>& batch, AuditTrail& audit,
    const std::vector<AuditTrail::Event>& events) {
  auto* chain = dynamic_cast<PgAuditTrail*>(&audit);
  if (chain == nullptr || !chain->in_database(pool_->conninfo()) || batch.empty()) {
    return IssuanceStore::record_audited(batch, audit, events);
  }
  auto refused = [](const Error& e) {
    return tl::unexpected(AuditedRecordError{e, /*recorded=*/false});
  };
  if (auto ok = rules::check_batch(batch); !ok) return refused(ok.error());
  if (auto w = writable(); !w) return refused(w.error());
  auto head = chain->append_after(
      [&](pg::Connection& c) -> Status { return insert_certs(c, batch); }, events);
  if (!head) return refused(head.error());
  return {};
}

Result<std::optional<IssuedCert>> PgIssuanceStore::find(const std::string& serial) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  auto found =
      query(**conn, (std::string(kSelect) + " WHERE serial = $1 ORDER BY ca LIMIT 2").c_str(),
            Params().text(*key));
  if (!found) return tl::unexpected(found.error());
  if (found->empty()) return std::nullopt;
  if (found->size() > 1) {
    return fail(ErrorKind::conflict, "serial " + *key + " was used by several CAs (" +
                                         rules::quoted((*found)[0].ca) + ", " +
                                         rules::quoted((*found)[1].ca) + "); name the CA");
  }
  return std::move(found->front());
}

Result<std::optional<IssuedCert>> PgIssuanceStore::find(const std::string& ca,
                                                        const std::string& serial) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  auto found = query(**conn, (std::string(kSelect) + " WHERE ca = $1 AND serial = $2").c_str(),
                     Params().text(ca).text(*key));
  if (!found) return tl::unexpected(found.error());
  if (found->empty()) return std::nullopt;
  return std::move(found->front());
}

Result<std::vector<IssuedCert>> PgIssuanceStore::list(
    const std::optional<std::string>& ca, const std::optional<int64_t>& expiring_before) {
  // Constant SQL text only: the values are parameters.
  std::string sql = kSelect;
  Params p;
  if (ca && expiring_before) {
    sql += " WHERE ca = $1 AND not_after < $2";
    p.text(*ca).int64(*expiring_before);
  } else if (ca) {
    sql += " WHERE ca = $1";
    p.text(*ca);
  } else if (expiring_before) {
    sql += " WHERE not_after < $1";
    p.int64(*expiring_before);
  }
  sql += " ORDER BY not_after, serial, ca";
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  return query(**conn, sql.c_str(), p);
}

Status PgIssuanceStore::revoke(const std::string& ca, const std::string& serial, int reason,
                               int64_t when) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  if (auto ok = rules::check_reason(reason); !ok) return ok;
  if (auto w = writable(); !w) return w;
  return in_transaction("revoke in", [&](pg::Connection& c) -> Status {
    // The row's lock makes a second revocation wait, then see it revoked.
    auto r = c.exec(
        "UPDATE certs SET revoked_at = $3, revocation_reason = $4 "
        "WHERE ca = $1 AND serial = $2 AND revoked_at IS NULL",
        Params().text(ca).text(*key).int64(when).int64(reason), "revoke in");
    if (!r) return tl::unexpected(r.error());
    if (r->affected() == 1) return {};
    auto found = c.exec("SELECT revoked_at FROM certs WHERE ca = $1 AND serial = $2",
                        Params().text(ca).text(*key), "revoke in");
    if (!found) return tl::unexpected(found.error());
    if (found->size() == 0) return rules::no_such_certificate(ca, *key, name_);
    return rules::already_revoked(ca, *key, found->int64(0, 0));
  });
}

Result<std::vector<IssuedCert>> PgIssuanceStore::revoke_with_renewals(const std::string& ca,
                                                                      const std::string& serial,
                                                                      int reason, int64_t when) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  if (auto ok = rules::check_reason(reason); !ok) return tl::unexpected(ok.error());
  if (auto w = writable(); !w) return tl::unexpected(w.error());
  std::vector<IssuedCert> out;
  auto done = in_transaction("revoke in", [&](pg::Connection& c) -> Status {
    out.clear();  // a retried transaction starts again
    // The certificate, then the ones renewed from it, breadth first; CYCLE ends a hand-made
    // loop, GROUP BY keeps each once.
    auto lineage = c.exec(
        "WITH RECURSIVE lineage(id, depth) AS ("
        " SELECT id, 0 FROM certs WHERE ca = $1 AND serial = $2"
        " UNION ALL"
        " SELECT c.id, l.depth + 1 FROM lineage l JOIN certs p ON p.id = l.id"
        " JOIN certs c ON c.ca = p.ca AND c.renewed_from = p.serial"
        ") CYCLE id SET looped USING path"
        " SELECT id FROM lineage WHERE NOT looped GROUP BY id ORDER BY min(depth), id",
        Params().text(ca).text(*key), "revoke in");
    if (!lineage) return tl::unexpected(lineage.error());
    if (lineage->size() == 0) return rules::no_such_certificate(ca, *key, name_);
    for (int i = 0; i < lineage->size(); ++i) {
      const std::string id = lineage->text(i, 0);
      // Revoked here only if no one revoked it first (the row lock orders two instances).
      auto r = c.exec(kRevokeOne, Params().text(id).int64(when).int64(reason), "revoke in");
      if (!r) return tl::unexpected(r.error());
      if (r->size() == 1) out.push_back(read_cert(*r, 0));
    }
    if (out.empty()) return rules::lineage_already_revoked(ca, *key);
    return {};
  });
  if (!done) return tl::unexpected(done.error());
  return out;
}

Result<std::vector<IssuedCert>> PgIssuanceStore::renewals(const std::string& ca,
                                                          const std::string& serial) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  return query(
      **conn,
      (std::string(kSelectNoDer) + " WHERE ca = $1 AND renewed_from = $2 ORDER BY serial").c_str(),
      Params().text(ca).text(*key));
}

Result<bool> PgIssuanceStore::key_compromised(const std::string& spki_sha256) {
  if (spki_sha256.empty()) return false;
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  auto rows =
      (*conn)->exec("SELECT 1 FROM certs WHERE spki_sha256 = $1 AND revocation_reason = 1 LIMIT 1",
                    Params().text(spki_sha256), "read");
  if (!rows) return tl::unexpected(rows.error());
  return rows->size() > 0;
}

Result<std::vector<IssuedCert>> PgIssuanceStore::revoked(const std::string& ca) {
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  return query(**conn,
               (std::string(kSelectNoDer) +
                " WHERE ca = $1 AND revoked_at IS NOT NULL ORDER BY revoked_at, serial")
                   .c_str(),
               Params().text(ca));
}

Result<uint64_t> PgIssuanceStore::next_crl_number(const std::string& ca) {
  if (ca.empty()) return fail(ErrorKind::usage, "no CA named for the CRL number");
  if (auto w = writable(); !w) return tl::unexpected(w.error());
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  // One statement, atomic under the row's lock: whichever instance asks, the numbers rise.
  auto rows = (*conn)->exec(
      "INSERT INTO crl_numbers (ca, last) VALUES ($1, 1) "
      "ON CONFLICT (ca) DO UPDATE SET last = crl_numbers.last + 1 RETURNING last",
      Params().text(ca), "count CRLs in");
  if (!rows) return tl::unexpected(rows.error());
  return static_cast<uint64_t>(rows->int64(0, 0));
}

Status PgIssuanceStore::release_crl_number(const std::string& ca, uint64_t number) {
  if (auto w = writable(); !w) return w;
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  auto rows = (*conn)->exec("UPDATE crl_numbers SET last = last - 1 WHERE ca = $1 AND last = $2",
                            Params().text(ca).int64(static_cast<int64_t>(number)),
                            "give back a CRL number in");
  if (!rows) return tl::unexpected(rows.error());
  return {};
}

}  // namespace hwca::ca
