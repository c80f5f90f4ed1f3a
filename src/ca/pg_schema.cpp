// PgIssuanceStore: opening, and the schema. Version 1 holds what SQLite's version 6 holds
// (sqlite_issuance_open.cpp), in PostgreSQL's types: certificates with their SANs (a JSON
// array of "DNS:..." texts), lineage and attestation; CRL numbers; bootstrap tokens (only
// the SHA-256 of their text); nodes' TPMs and the EK roots; the shared CA definitions
// (ca_catalog.hpp); the audit chain (one row a line,
// pg_audit_trail.hpp). Version 2 adds the shared profiles (one row: a `profiles:` mapping's
// YAML text). Times are Unix seconds. Every text column compares bytewise (COLLATE
// "C"), as SQLite does: names, serials and ids sort alike in both stores, whatever the
// server's locale.
#include <memory>

#include "ca/pg_connection.hpp"
#include "ca/pg_issuance_store.hpp"

namespace hwca::ca {
namespace {

constexpr int kSchemaVersion = 2;

// Every statement of one version, applied in one transaction.
const char* const kSchemaV1 = R"sql(
CREATE TABLE hwca_schema (
  version integer NOT NULL
);
INSERT INTO hwca_schema (version) VALUES (1);
CREATE TABLE certs (
  id bigserial PRIMARY KEY,
  ca text COLLATE "C" NOT NULL CHECK (ca <> ''),
  serial text COLLATE "C" NOT NULL CHECK (serial <> ''),
  profile text COLLATE "C" NOT NULL,
  subject text COLLATE "C" NOT NULL,
  sans text COLLATE "C" NOT NULL DEFAULT '[]',
  not_before bigint NOT NULL,
  not_after bigint NOT NULL,
  requester text COLLATE "C" NOT NULL,
  der bytea NOT NULL,
  revoked_at bigint,
  revocation_reason integer,
  recorded_at bigint NOT NULL,
  renewed_from text COLLATE "C" CHECK (renewed_from IS NULL OR renewed_from <> ''),
  spki_sha256 text COLLATE "C" CHECK (spki_sha256 IS NULL OR length(spki_sha256) = 64),
  attest_ek_sha256 text COLLATE "C" CHECK (attest_ek_sha256 IS NULL OR length(attest_ek_sha256) = 64),
  attest_ak_name text COLLATE "C" CHECK (attest_ak_name IS NULL OR attest_ak_name <> ''),
  attest_key_name text COLLATE "C" CHECK (attest_key_name IS NULL OR attest_key_name <> ''),
  CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL)),
  UNIQUE (ca, serial)
);
CREATE INDEX certs_by_serial ON certs (serial);
CREATE INDEX certs_by_not_after ON certs (not_after, serial);
CREATE INDEX certs_revoked ON certs (ca, revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX certs_by_renewed_from ON certs (ca, renewed_from) WHERE renewed_from IS NOT NULL;
CREATE INDEX certs_compromised_keys ON certs (spki_sha256) WHERE revocation_reason = 1;
CREATE TABLE serial_reservations (
  ca text COLLATE "C" NOT NULL CHECK (ca <> ''),
  serial text COLLATE "C" NOT NULL CHECK (serial <> ''),
  reserved_at bigint NOT NULL,
  PRIMARY KEY (ca, serial)
);
CREATE TABLE crl_numbers (
  ca text COLLATE "C" PRIMARY KEY,
  last bigint NOT NULL CHECK (last > 0)
);
CREATE TABLE bootstrap_tokens (
  id text COLLATE "C" PRIMARY KEY CHECK (length(id) = 6),
  seq bigserial NOT NULL,
  node text COLLATE "C" NOT NULL CHECK (node <> ''),
  secret_sha256 bytea NOT NULL CHECK (length(secret_sha256) = 32),
  addresses text COLLATE "C" NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  created_by text COLLATE "C" NOT NULL,
  used_at bigint,
  revoked_at bigint
);
CREATE INDEX bootstrap_tokens_by_created ON bootstrap_tokens (created_at, id);
CREATE INDEX bootstrap_tokens_spent ON bootstrap_tokens (node, used_at) WHERE used_at IS NOT NULL;
CREATE TABLE node_tpms (
  node text COLLATE "C" PRIMARY KEY CHECK (node <> ''),
  ek_sha256 text COLLATE "C" NOT NULL UNIQUE CHECK (length(ek_sha256) = 64),
  ek_kind text COLLATE "C" NOT NULL CHECK (ek_kind IN ('certificate', 'public-key')),
  ek_der bytea NOT NULL CHECK (length(ek_der) > 0),
  registered_at bigint NOT NULL,
  registered_by text COLLATE "C" NOT NULL,
  addresses text COLLATE "C" NOT NULL DEFAULT '[]'
);
CREATE TABLE ca_definitions (
  name text COLLATE "C" PRIMARY KEY CHECK (name <> ''),
  entry text COLLATE "C" NOT NULL,
  cert_pem text COLLATE "C" NOT NULL,
  created_at bigint NOT NULL,
  created_by text COLLATE "C" NOT NULL
);
CREATE TABLE audit_events (
  seq bigint PRIMARY KEY CHECK (seq > 0),
  line text COLLATE "C" NOT NULL
);
CREATE TABLE ek_roots (
  sha256 text COLLATE "C" PRIMARY KEY CHECK (length(sha256) = 64),
  subject text COLLATE "C" NOT NULL,
  anchor boolean NOT NULL,
  der bytea NOT NULL CHECK (length(der) > 0),
  added_at bigint NOT NULL,
  added_by text COLLATE "C" NOT NULL
);
)sql";

// The profiles every home on the database takes in besides its own ('hwca profile
// publish'): at most one row, replaced whole.
const char* const kSchemaV2 = R"sql(
CREATE TABLE shared_profiles (
  id integer PRIMARY KEY CHECK (id = 1),
  profiles text COLLATE "C" NOT NULL,
  published_at bigint NOT NULL,
  published_by text COLLATE "C" NOT NULL
);
)sql";

// The versions in order: kSchemas[v - 1] takes a database from version v - 1 to v.
const char* const kSchemas[] = {kSchemaV1, kSchemaV2};
static_assert(std::size(kSchemas) == kSchemaVersion, "one text per version");

// Any number, the same in every instance: the lock that serialises creating the schema. A
// session lock, taken outside a transaction: the version is then read by a transaction that
// starts after the holder's commit, so it sees the tables that one made.
constexpr const char* kSchemaLock = "SELECT pg_advisory_lock(6879636100000001)";
constexpr const char* kSchemaUnlock = "SELECT pg_advisory_unlock(6879636100000001)";

}  // namespace

PgIssuanceStore::PgIssuanceStore(std::string name, std::unique_ptr<pg::Pool> pool,
                                 const Options& options)
    : name_(std::move(name)), pool_(std::move(pool)), options_(options) {}

PgIssuanceStore::~PgIssuanceStore() = default;

Result<std::unique_ptr<PgIssuanceStore>> PgIssuanceStore::open(const std::string& url,
                                                               const Options& options) {
  auto name = pg::database_name(url);
  if (!name) return tl::unexpected(name.error());
  auto pool = std::make_unique<pg::Pool>(url, *name, options.read_only,
                                         options.connections == 0 ? 1 : options.connections);
  std::unique_ptr<PgIssuanceStore> store(new PgIssuanceStore(*name, std::move(pool), options));
  if (auto ok = store->prepare_schema(); !ok) return tl::unexpected(ok.error());
  return store;
}

Status PgIssuanceStore::prepare_schema() {
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  pg::Connection& c = **conn;
  auto version = [&]() -> Result<int64_t> {
    auto exists = c.exec("SELECT to_regclass('hwca_schema') IS NOT NULL", "read");
    if (!exists) return tl::unexpected(exists.error());
    if (!exists->boolean(0, 0)) return 0;
    auto v = c.exec("SELECT version FROM hwca_schema", "read");
    if (!v) return tl::unexpected(v.error());
    if (v->size() != 1) {
      return tl::unexpected(Error{ErrorKind::io,
                                  "issuance database " + name_ +
                                      ": table hwca_schema must hold one row; restore the "
                                      "database from a backup",
                                  ErrorSource::database});
    }
    return v->int64(0, 0);
  };
  auto now = version();
  if (!now) return tl::unexpected(now.error());
  if (*now > kSchemaVersion) {
    return tl::unexpected(Error{ErrorKind::usage,
                                "issuance database " + name_ + " has schema version " +
                                    std::to_string(*now) + "; this hwca knows versions up to " +
                                    std::to_string(kSchemaVersion) + ": use a newer hwca",
                                ErrorSource::database});
  }
  if (*now == kSchemaVersion) return {};
  if (options_.read_only) {
    return tl::unexpected(Error{ErrorKind::not_found,
                                "issuance database " + name_ + " has no hwca schema yet (version " +
                                    std::to_string(*now) + "); open it writable once to create it",
                                ErrorSource::database});
  }
  if (auto r = c.exec(kSchemaLock, "create the schema of"); !r) return tl::unexpected(r.error());
  auto made = [&]() -> Status {
    auto again = version();  // another instance may have made it while we waited
    if (!again) return tl::unexpected(again.error());
    return c.transaction(
        [&]() -> Status {
          for (int64_t v = *again; v < kSchemaVersion; ++v) {
            if (auto ok = c.exec_script(kSchemas[v], "create the schema of"); !ok) return ok;
            if (v > 0) {
              auto r = c.exec("UPDATE hwca_schema SET version = $1", pg::Params().int64(v + 1),
                              "create the schema of");
              if (!r) return tl::unexpected(r.error());
            }
          }
          return {};
        },
        "create the schema of");
  }();
  // A connection that broke has lost its session lock with it.
  if (!c.broken()) (void)c.exec(kSchemaUnlock, "create the schema of");
  return made;
}

Status PgIssuanceStore::in_transaction(const std::string& doing,
                                       const std::function<Status(pg::Connection&)>& body) {
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  pg::Connection& c = **conn;
  return c.transaction([&] { return body(c); }, doing);
}

Status PgIssuanceStore::writable() const {
  if (options_.read_only) {
    return tl::unexpected(Error{ErrorKind::io,
                                "issuance database " + name_ + " was opened read-only",
                                ErrorSource::database});
  }
  return {};
}

Status PgIssuanceStore::ping() {
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  auto r = (*conn)->exec("SELECT count(*) FROM (SELECT 1 FROM certs LIMIT 1) AS one", "read");
  if (!r) return tl::unexpected(r.error());
  return {};
}

Result<bool> PgIssuanceStore::holds_records() {
  auto conn = pool_->lease();
  if (!conn) return tl::unexpected(conn.error());
  auto r = (*conn)->exec(
      "SELECT EXISTS (SELECT 1 FROM certs) OR EXISTS (SELECT 1 FROM bootstrap_tokens) OR "
      "EXISTS (SELECT 1 FROM node_tpms) OR EXISTS (SELECT 1 FROM ek_roots)",
      "read");
  if (!r) return tl::unexpected(r.error());
  return r->boolean(0, 0);
}

}  // namespace hwca::ca
