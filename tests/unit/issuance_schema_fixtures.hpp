// Issuance databases as older hwca versions created them, frozen: the fixtures for the
// upgrade tests (issuance_lineage_test.cpp, tpm_registry_test.cpp). Do not change them to
// follow the current schema (src/ca/sqlite_issuance_open.cpp).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

namespace hwca::test {

// Schema version 2 exactly as hwca created it before the lineage: the fixture for the
// upgrade. Do not change it to follow the current schema.
inline constexpr const char* kSchemaV2Fixture = R"sql(
PRAGMA journal_mode = WAL;
CREATE TABLE certs (
  id INTEGER PRIMARY KEY,
  ca TEXT NOT NULL CHECK (ca <> ''),
  serial TEXT NOT NULL CHECK (serial <> ''),
  profile TEXT NOT NULL,
  subject TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  requester TEXT NOT NULL,
  der BLOB NOT NULL,
  revoked_at INTEGER,
  revocation_reason INTEGER,
  recorded_at INTEGER NOT NULL,
  CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL))
) STRICT;
CREATE UNIQUE INDEX certs_by_ca_serial ON certs (ca, serial);
CREATE INDEX certs_by_serial ON certs (serial);
CREATE INDEX certs_by_not_after ON certs (not_after, serial);
CREATE INDEX certs_revoked ON certs (ca, revoked_at) WHERE revoked_at IS NOT NULL;
CREATE TABLE cert_sans (
  cert_id INTEGER NOT NULL REFERENCES certs (id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  san TEXT NOT NULL,
  PRIMARY KEY (cert_id, position)
) STRICT, WITHOUT ROWID;
CREATE TABLE crl_numbers (
  ca TEXT PRIMARY KEY,
  last INTEGER NOT NULL CHECK (last > 0)
) STRICT;
PRAGMA application_id = 1752654689;
CREATE TABLE bootstrap_tokens (
  id TEXT PRIMARY KEY CHECK (length(id) = 6),
  node TEXT NOT NULL CHECK (node <> ''),
  secret_sha256 BLOB NOT NULL CHECK (length(secret_sha256) = 32),
  addresses TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  used_at INTEGER,
  revoked_at INTEGER
) STRICT;
CREATE INDEX bootstrap_tokens_by_created ON bootstrap_tokens (created_at, id);
CREATE INDEX bootstrap_tokens_spent ON bootstrap_tokens (node, used_at)
  WHERE used_at IS NOT NULL;
PRAGMA user_version = 2;
)sql";

// What version 3 added to version 2 (run after kSchemaV2Fixture): the lineage columns.
inline constexpr const char* kSchemaV3FromV2 = R"sql(
ALTER TABLE certs ADD COLUMN renewed_from TEXT CHECK (renewed_from IS NULL OR renewed_from <> '');
ALTER TABLE certs ADD COLUMN spki_sha256 TEXT
  CHECK (spki_sha256 IS NULL OR length(spki_sha256) = 64);
CREATE INDEX certs_by_renewed_from ON certs (ca, renewed_from) WHERE renewed_from IS NOT NULL;
CREATE INDEX certs_compromised_keys ON certs (spki_sha256) WHERE revocation_reason = 1;
PRAGMA user_version = 3;
)sql";

// What version 4 added to version 3 (run after kSchemaV3FromV2): the TPM registry, without
// the addresses of version 5, and the attestation columns.
inline constexpr const char* kSchemaV4FromV3 = R"sql(
CREATE TABLE node_tpms (
  node TEXT PRIMARY KEY CHECK (node <> ''),
  ek_sha256 TEXT NOT NULL UNIQUE CHECK (length(ek_sha256) = 64),
  ek_kind TEXT NOT NULL CHECK (ek_kind IN ('certificate', 'public-key')),
  ek_der BLOB NOT NULL CHECK (length(ek_der) > 0),
  registered_at INTEGER NOT NULL,
  registered_by TEXT NOT NULL
) STRICT;
CREATE TABLE ek_roots (
  sha256 TEXT PRIMARY KEY CHECK (length(sha256) = 64),
  subject TEXT NOT NULL,
  anchor INTEGER NOT NULL CHECK (anchor IN (0, 1)),
  der BLOB NOT NULL CHECK (length(der) > 0),
  added_at INTEGER NOT NULL,
  added_by TEXT NOT NULL
) STRICT;
ALTER TABLE certs ADD COLUMN attest_ek_sha256 TEXT
  CHECK (attest_ek_sha256 IS NULL OR length(attest_ek_sha256) = 64);
ALTER TABLE certs ADD COLUMN attest_ak_name TEXT CHECK (attest_ak_name IS NULL OR attest_ak_name <> '');
ALTER TABLE certs ADD COLUMN attest_key_name TEXT
  CHECK (attest_key_name IS NULL OR attest_key_name <> '');
PRAGMA user_version = 4;
)sql";

// PRAGMA user_version of the file, read on a connection of its own; -1 if it cannot be read.
inline int64_t user_version(const std::string& path) {
  sqlite3* db = nullptr;
  int64_t v = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, nullptr) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW) {
      v = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return v;
}

}  // namespace hwca::test
