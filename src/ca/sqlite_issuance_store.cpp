// SqliteIssuanceStore: the queries (record, find, list, revoke, CRL numbers); opening and
// checking the database is in sqlite_issuance_open.cpp.
#include "ca/sqlite_issuance_store.hpp"

#include <sqlite3.h>

#include <ctime>
#include <utility>

#include "ca/sqlite_statement.hpp"
#include "ca/store_rules.hpp"
#include "common/text.hpp"

namespace hwca::ca {
namespace {

using rules::serial_key;
using sqlite::Stmt;
using sqlite::Txn;

#define HWCA_CERT_COLUMNS                                                            \
  "id, ca, serial, profile, subject, not_before, not_after, requester, revoked_at, " \
  "revocation_reason"
#define HWCA_ATTEST_COLUMNS ", attest_ek_sha256, attest_ak_name, attest_key_name"
// A database older than version 3, read as it is (opened read-only), has no lineage; one
// older than version 4 no attestation.
const char* const kSelectAll = "SELECT " HWCA_CERT_COLUMNS
                               ", der, renewed_from, spki_sha256" HWCA_ATTEST_COLUMNS " FROM certs";
const char* const kSelectNoDer =
    "SELECT " HWCA_CERT_COLUMNS ", x'', renewed_from, spki_sha256" HWCA_ATTEST_COLUMNS
    " FROM certs";
const char* const kSelectAllV3 =
    "SELECT " HWCA_CERT_COLUMNS ", der, renewed_from, spki_sha256, NULL, NULL, NULL FROM certs";
const char* const kSelectNoDerV3 =
    "SELECT " HWCA_CERT_COLUMNS ", x'', renewed_from, spki_sha256, NULL, NULL, NULL FROM certs";
const char* const kSelectAllV2 =
    "SELECT " HWCA_CERT_COLUMNS ", der, NULL, NULL, NULL, NULL, NULL FROM certs";
const char* const kSelectNoDerV2 =
    "SELECT " HWCA_CERT_COLUMNS ", x'', NULL, NULL, NULL, NULL, NULL FROM certs";
#undef HWCA_ATTEST_COLUMNS
#undef HWCA_CERT_COLUMNS

IssuedCert read_row(const Stmt& s) {
  IssuedCert c;
  c.ca = s.text(1);
  c.serial = s.text(2);
  c.profile = s.text(3);
  c.subject = s.text(4);
  c.not_before = s.int64(5);
  c.not_after = s.int64(6);
  c.requester = s.text(7);
  c.revoked = !s.is_null(8);
  c.revoked_at = c.revoked ? s.int64(8) : 0;
  c.revocation_reason = c.revoked ? static_cast<int>(s.int64(9)) : 0;
  c.der = s.blob(10);
  c.renewed_from = s.text(11);
  c.spki_sha256 = s.text(12);
  c.attest_ek_sha256 = s.text(13);
  c.attest_ak_name = s.text(14);
  c.attest_key_name = s.text(15);
  return c;
}

}  // namespace

const char* SqliteIssuanceStore::select(bool der) const {
  if (attestation_) return der ? kSelectAll : kSelectNoDer;
  if (lineage_) return der ? kSelectAllV3 : kSelectNoDerV3;
  return der ? kSelectAllV2 : kSelectNoDerV2;
}

Result<std::vector<IssuedCert>> SqliteIssuanceStore::query(const ReadConn& r, const char* sql,
                                                           const std::string* ca,
                                                           const std::string* serial,
                                                           const int64_t* before) {
  sqlite3* db = r.db;
  Txn txn(db);  // one snapshot for the rows and their SANs
  if (int rc = txn.begin(/*write=*/false); rc != SQLITE_OK) return db_error(rc, "read", db);
  Stmt rows(*r.stmts, db, sql);
  if (ca) rows.bind(":ca", *ca);
  if (serial) rows.bind(":serial", *serial);
  if (before) rows.bind(":before", *before);
  Stmt sans(*r.stmts, db, "SELECT san FROM cert_sans WHERE cert_id = :id ORDER BY position");
  std::vector<IssuedCert> out;
  int rc;
  while ((rc = rows.step()) == SQLITE_ROW) {
    out.push_back(read_row(rows));
    sans.bind(":id", rows.int64(0));
    int src;
    while ((src = sans.step()) == SQLITE_ROW) out.back().sans.push_back(sans.text(0));
    if (src != SQLITE_DONE) return db_error(src, "read", db);
    sans.reset();
  }
  if (rc != SQLITE_DONE) return db_error(rc, "read", db);
  return out;
}

Result<bool> SqliteIssuanceStore::serial_exists(const std::string& ca, const std::string& serial) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  auto r = reader();
  Stmt s(*r.stmts, r.db, "SELECT 1 FROM certs WHERE ca = :ca AND serial = :serial");
  s.bind(":ca", ca);
  s.bind(":serial", *key);
  int rc = s.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_error(rc, "read", r.db);
  return rc == SQLITE_ROW;
}

Result<std::vector<std::string>> SqliteIssuanceStore::reserve_serials(
    const std::string& ca, const std::vector<std::string>& serials) {
  if (auto ok = rules::check_reservation(ca, serials); !ok) return tl::unexpected(ok.error());
  std::vector<std::string> taken;
  if (serials.empty()) return taken;
  std::lock_guard lock(mu_);
  if (auto w = writable(); !w) return tl::unexpected(w.error());
  sqlite3* db = db_.get();
  Txn txn(db);
  const char* doing = "reserve serials in";
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) return db_error(rc, doing);
  Stmt reserve(*write_stmts_, db,
               "INSERT INTO serial_reservations (ca, serial, reserved_at) "
               "SELECT :ca, :serial, :now WHERE NOT EXISTS "
               "(SELECT 1 FROM certs WHERE ca = :ca AND serial = :serial) "
               "ON CONFLICT DO NOTHING");
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& s : serials) {
    reserve.bind(":ca", ca);
    reserve.bind(":serial", s);
    reserve.bind(":now", now);
    if (int rc = reserve.step(); rc != SQLITE_DONE) return db_error(rc, doing);
    reserve.reset();
    if (sqlite3_changes(db) == 1) taken.push_back(s);
  }
  if (int rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, doing);
  return taken;
}

Status SqliteIssuanceStore::record(const std::vector<IssuedCert>& batch) {
  if (auto ok = rules::check_batch(batch); !ok) return ok;
  if (batch.empty()) return {};
  std::lock_guard lock(mu_);
  if (auto w = writable(); !w) return w;
  sqlite3* db = db_.get();
  Txn txn(db);
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) return db_error(rc, "record in");
  Stmt cert(*write_stmts_, db,
            "INSERT INTO certs (ca, serial, profile, subject, not_before, not_after, requester, "
            "der, revoked_at, revocation_reason, recorded_at, renewed_from, spki_sha256, "
            "attest_ek_sha256, attest_ak_name, attest_key_name) VALUES "
            "(:ca, :serial, :profile, :subject, :not_before, :not_after, :requester, :der, "
            ":revoked_at, :reason, :now, :renewed_from, :spki, :ek, :ak, :key)");
  Stmt san(*write_stmts_, db,
           "INSERT INTO cert_sans (cert_id, position, san) VALUES (:id, :position, :san)");
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const auto& c : batch) {
    cert.bind(":ca", c.ca);
    cert.bind(":serial", c.serial);
    cert.bind(":profile", c.profile);
    cert.bind(":subject", c.subject);
    cert.bind(":not_before", c.not_before);
    cert.bind(":not_after", c.not_after);
    cert.bind(":requester", c.requester);
    cert.bind(":der", c.der);
    if (c.revoked) {
      cert.bind(":revoked_at", c.revoked_at);
      cert.bind(":reason", static_cast<int64_t>(c.revocation_reason));
    } else {
      cert.bind_null(":revoked_at");
      cert.bind_null(":reason");
    }
    cert.bind(":now", now);
    if (c.renewed_from.empty()) {
      cert.bind_null(":renewed_from");
    } else {
      cert.bind(":renewed_from", c.renewed_from);
    }
    const std::string spki = rules::spki_of(c);
    if (spki.empty()) {
      cert.bind_null(":spki");
    } else {
      cert.bind(":spki", spki);
    }
    for (auto [name, value] :
         {std::pair{":ek", &c.attest_ek_sha256}, std::pair{":ak", &c.attest_ak_name},
          std::pair{":key", &c.attest_key_name}}) {
      if (value->empty()) {
        cert.bind_null(name);
      } else {
        cert.bind(name, *value);
      }
    }
    int rc = cert.step();
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
      return rules::serial_used(c.ca, c.serial);
    }
    if (rc != SQLITE_DONE) return db_error(rc, "record in");
    cert.reset();
    const int64_t id = sqlite3_last_insert_rowid(db);
    for (size_t i = 0; i < c.sans.size(); ++i) {
      san.bind(":id", id);
      san.bind(":position", static_cast<int64_t>(i));
      san.bind(":san", c.sans[i]);
      if (rc = san.step(); rc != SQLITE_DONE) return db_error(rc, "record in");
      san.reset();
    }
  }
  if (int rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "record in");
  return {};
}

Result<std::optional<IssuedCert>> SqliteIssuanceStore::find(const std::string& serial) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  auto r = reader();
  auto found =
      query(r, (std::string(select(true)) + " WHERE serial = :serial ORDER BY ca LIMIT 2").c_str(),
            nullptr, &*key, nullptr);
  if (!found) return tl::unexpected(found.error());
  if (found->empty()) return std::nullopt;
  if (found->size() > 1) {
    return fail(ErrorKind::conflict, "serial " + *key + " was used by several CAs ('" +
                                         printable((*found)[0].ca) + "', '" +
                                         printable((*found)[1].ca) + "'); name the CA");
  }
  return std::move(found->front());
}

Result<std::optional<IssuedCert>> SqliteIssuanceStore::find(const std::string& ca,
                                                            const std::string& serial) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  auto r = reader();
  auto found =
      query(r, (std::string(select(true)) + " WHERE ca = :ca AND serial = :serial").c_str(), &ca,
            &*key, nullptr);
  if (!found) return tl::unexpected(found.error());
  if (found->empty()) return std::nullopt;
  return std::move(found->front());
}

Result<std::vector<IssuedCert>> SqliteIssuanceStore::list(
    const std::optional<std::string>& ca, const std::optional<int64_t>& expiring_before) {
  // Constant SQL text only: the values are bound.
  std::string sql = select(true);
  if (ca && expiring_before) {
    sql += " WHERE ca = :ca AND not_after < :before";
  } else if (ca) {
    sql += " WHERE ca = :ca";
  } else if (expiring_before) {
    sql += " WHERE not_after < :before";
  }
  sql += " ORDER BY not_after, serial, ca";
  auto r = reader();
  return query(r, sql.c_str(), ca ? &*ca : nullptr, nullptr,
               expiring_before ? &*expiring_before : nullptr);
}

Status SqliteIssuanceStore::revoke(const std::string& ca, const std::string& serial, int reason,
                                   int64_t when) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  if (auto ok = rules::check_reason(reason); !ok) return tl::unexpected(ok.error());
  std::lock_guard lock(mu_);
  if (auto w = writable(); !w) return w;
  sqlite3* db = db_.get();
  Txn txn(db);
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) return db_error(rc, "revoke in");
  Stmt find(db, "SELECT id, revoked_at FROM certs WHERE ca = :ca AND serial = :serial");
  find.bind(":ca", ca);
  find.bind(":serial", *key);
  int rc = find.step();
  if (rc == SQLITE_DONE) {
    return rules::no_such_certificate(ca, *key, path_);
  }
  if (rc != SQLITE_ROW) return db_error(rc, "revoke in");
  if (!find.is_null(1)) {
    return rules::already_revoked(ca, *key, find.int64(1));
  }
  Stmt update(db,
              "UPDATE certs SET revoked_at = :when, revocation_reason = :reason WHERE id = :id");
  update.bind(":when", when);
  update.bind(":reason", static_cast<int64_t>(reason));
  update.bind(":id", find.int64(0));
  if (rc = update.step(); rc != SQLITE_DONE) return db_error(rc, "revoke in");
  if (rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "revoke in");
  return {};
}

Result<std::vector<IssuedCert>> SqliteIssuanceStore::revoke_with_renewals(const std::string& ca,
                                                                          const std::string& serial,
                                                                          int reason,
                                                                          int64_t when) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  if (auto ok = rules::check_reason(reason); !ok) return tl::unexpected(ok.error());
  std::lock_guard lock(mu_);
  if (auto w = writable(); !w) return tl::unexpected(w.error());
  sqlite3* db = db_.get();
  Txn txn(db);
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) return db_error(rc, "revoke in");
  // The certificate, then the ones renewed from it, breadth first (a parent before its
  // renewals); UNION keeps each once, so even a hand-made cycle ends.
  Stmt lineage(db,
               "WITH RECURSIVE lineage(id) AS ("
               " SELECT id FROM certs WHERE ca = :ca AND serial = :serial"
               " UNION"
               " SELECT c.id FROM lineage l JOIN certs p ON p.id = l.id"
               " JOIN certs c ON c.ca = p.ca AND c.renewed_from = p.serial)"
               " SELECT id FROM lineage");
  lineage.bind(":ca", ca);
  lineage.bind(":serial", *key);
  std::vector<int64_t> ids;
  int rc;
  while ((rc = lineage.step()) == SQLITE_ROW) ids.push_back(lineage.int64(0));
  if (rc != SQLITE_DONE) return db_error(rc, "revoke in");
  if (ids.empty()) {
    return rules::no_such_certificate(ca, *key, path_);
  }
  Stmt row(db, (std::string(kSelectNoDer) + " WHERE id = :id").c_str());
  Stmt update(db,
              "UPDATE certs SET revoked_at = :when, revocation_reason = :reason WHERE id = :id");
  std::vector<IssuedCert> out;
  for (int64_t id : ids) {
    row.bind(":id", id);
    if (rc = row.step(); rc != SQLITE_ROW) return db_error(rc, "revoke in");
    IssuedCert c = read_row(row);
    row.reset();
    if (c.revoked) continue;
    update.bind(":when", when);
    update.bind(":reason", static_cast<int64_t>(reason));
    update.bind(":id", id);
    if (rc = update.step(); rc != SQLITE_DONE) return db_error(rc, "revoke in");
    update.reset();
    c.revoked = true;
    c.revoked_at = when;
    c.revocation_reason = reason;
    out.push_back(std::move(c));
  }
  if (out.empty()) {
    return rules::lineage_already_revoked(ca, *key);
  }
  if (rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "revoke in");
  return out;
}

Result<std::vector<IssuedCert>> SqliteIssuanceStore::renewals(const std::string& ca,
                                                              const std::string& serial) {
  auto key = serial_key(serial);
  if (!key) return tl::unexpected(key.error());
  if (!lineage_) return std::vector<IssuedCert>{};
  auto r = reader();
  return query(
      r,
      (std::string(select(false)) + " WHERE ca = :ca AND renewed_from = :serial ORDER BY serial")
          .c_str(),
      &ca, &*key, nullptr);
}

Result<bool> SqliteIssuanceStore::key_compromised(const std::string& spki_sha256) {
  if (spki_sha256.empty() || !lineage_) return false;
  auto r = reader();
  Stmt s(*r.stmts, r.db,
         "SELECT 1 FROM certs WHERE spki_sha256 = :spki AND revocation_reason = 1 LIMIT 1");
  s.bind(":spki", spki_sha256);
  int rc = s.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_error(rc, "read", r.db);
  return rc == SQLITE_ROW;
}

Result<std::vector<IssuedCert>> SqliteIssuanceStore::revoked(const std::string& ca) {
  auto r = reader();
  return query(r,
               (std::string(select(false)) +
                " WHERE ca = :ca AND revoked_at IS NOT NULL ORDER BY revoked_at, serial")
                   .c_str(),
               &ca, nullptr, nullptr);
}

Result<uint64_t> SqliteIssuanceStore::next_crl_number(const std::string& ca) {
  if (ca.empty()) return fail(ErrorKind::usage, "no CA named for the CRL number");
  std::lock_guard lock(mu_);
  if (auto w = writable(); !w) return tl::unexpected(w.error());
  sqlite3* db = db_.get();
  Txn txn(db);
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) return db_error(rc, "count CRLs in");
  Stmt next(db,
            "INSERT INTO crl_numbers (ca, last) VALUES (:ca, 1) "
            "ON CONFLICT (ca) DO UPDATE SET last = last + 1 RETURNING last");
  next.bind(":ca", ca);
  int rc = next.step();
  if (rc != SQLITE_ROW) return db_error(rc, "count CRLs in");
  const auto number = static_cast<uint64_t>(next.int64(0));
  if (rc = next.step(); rc != SQLITE_DONE) return db_error(rc, "count CRLs in");
  next.reset();
  if (rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, "count CRLs in");
  return number;
}

Status SqliteIssuanceStore::release_crl_number(const std::string& ca, uint64_t number) {
  std::lock_guard lock(mu_);
  if (auto w = writable(); !w) return w;
  sqlite3* db = db_.get();
  Txn txn(db);
  const char* doing = "give back a CRL number in";
  if (int rc = txn.begin(/*write=*/true); rc != SQLITE_OK) return db_error(rc, doing);
  Stmt release(db, "UPDATE crl_numbers SET last = last - 1 WHERE ca = :ca AND last = :n");
  release.bind(":ca", ca);
  release.bind(":n", static_cast<int64_t>(number));
  if (int rc = release.step(); rc != SQLITE_DONE) return db_error(rc, doing);
  release.reset();
  if (int rc = txn.commit(); rc != SQLITE_OK) return db_error(rc, doing);
  return {};
}

}  // namespace hwca::ca
