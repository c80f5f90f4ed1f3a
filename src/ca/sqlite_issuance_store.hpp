// The issuance database in one SQLite file, for a CA on one host.
//
// The file and its -wal and -shm companions are created with mode 0600 (its folder must
// exist). The connection runs in WAL mode with synchronous=FULL, so a write is synced when
// it returns, and with a persistent WAL (the -wal and -shm files stay after closing), so a
// database whose file and folder were made read-only can still be read. Several processes
// may write at once: each write waits up to busy_timeout_ms for another's lock, then fails.
// Opening checks the file (PRAGMA quick_check) and its schema version (user_version). A new
// file gets version 6 (certificates with their lineage and attestation, the node registry of
// node_registry.hpp and the TPM registry of tpm_registry.hpp); an older file opened writable
// is upgraded to 6 in one transaction, its rows kept (version 3 adds renewed_from and
// spki_sha256 to certs, the latter filled from each certificate's DER; version 4 the TPM
// registry and the attest_* columns; version 5 the registered nodes' addresses; version 6
// the serials reserved before signing); opened
// read-only it stays as it is, its node registry (version 1) and TPM registry (versions 1
// to 3) read as empty, its lineage (versions 1 and 2) and attestation (versions 1 to 3) as
// unknown.
//
// One object may be shared between threads. Writes are serialised on one connection; reads
// use a second one (unless opened read-only), so that a read never waits for a write's sync:
// in WAL mode it sees the last committed state. Each connection keeps the statements of its
// frequent calls prepared for reuse. Do not carry an open store across fork():
// open a new one in the child.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "ca/database.hpp"

struct sqlite3;

namespace hwca::ca {
namespace sqlite {
class StmtCache;
class Stmt;
}  // namespace sqlite

class SqliteIssuanceStore : public Database {
 public:
  struct Options {
    bool read_only = false;      // SQLITE_OPEN_READONLY: never creates nor changes the file
    int busy_timeout_ms = 5000;  // how long a write waits for another process's lock
  };

  static Result<std::unique_ptr<SqliteIssuanceStore>> open(const std::string& path);
  static Result<std::unique_ptr<SqliteIssuanceStore>> open(const std::string& path,
                                                           const Options& options);

  SqliteIssuanceStore(const SqliteIssuanceStore&) = delete;
  SqliteIssuanceStore& operator=(const SqliteIssuanceStore&) = delete;
  ~SqliteIssuanceStore() override;

  Status writable() const override;
  Result<bool> serial_exists(const std::string& ca, const std::string& serial) override;
  Result<std::vector<std::string>> reserve_serials(
      const std::string& ca, const std::vector<std::string>& serials) override;
  Status record(const std::vector<IssuedCert>& batch) override;
  Result<std::optional<IssuedCert>> find(const std::string& serial) override;
  Result<std::optional<IssuedCert>> find(const std::string& ca, const std::string& serial) override;
  Result<std::vector<IssuedCert>> list(const std::optional<std::string>& ca,
                                       const std::optional<int64_t>& expiring_before) override;
  Status revoke(const std::string& ca, const std::string& serial, int reason,
                int64_t when) override;
  Result<std::vector<IssuedCert>> revoke_with_renewals(const std::string& ca,
                                                       const std::string& serial, int reason,
                                                       int64_t when) override;
  Result<std::vector<IssuedCert>> renewals(const std::string& ca,
                                           const std::string& serial) override;
  Result<bool> key_compromised(const std::string& spki_sha256) override;
  Result<std::vector<IssuedCert>> revoked(const std::string& ca) override;
  Result<uint64_t> next_crl_number(const std::string& ca) override;
  Status release_crl_number(const std::string& ca, uint64_t number) override;
  Status ping() override;                 // sqlite_issuance_health.cpp
  Result<bool> holds_records() override;  // sqlite_issuance_health.cpp

  // NodeRegistry (sqlite_node_registry.cpp).
  Status add_token(const BootstrapToken& token, const Sha256& secret_sha256) override;
  Result<std::vector<BootstrapToken>> tokens() override;
  Status revoke_token(const std::string& id, int64_t when) override;
  Result<BootstrapToken> claim_token(const std::string& id, const std::string& node,
                                     const Sha256& secret_sha256, int64_t now) override;
  Status unclaim_token(const std::string& id) override;
  Result<std::optional<NodeRecord>> node(const std::string& name) override;

  // TpmRegistry (sqlite_tpm_registry.cpp).
  Status register_tpm(const NodeTpm& tpm) override;
  Status register_tpms(const std::vector<NodeTpm>& tpms) override;
  Status unregister_tpm(const std::string& node) override;
  Result<std::optional<NodeTpm>> tpm(const std::string& node) override;
  Result<std::vector<NodeTpm>> tpms() override;
  Status add_ek_root(const EkRoot& root) override;
  Status remove_ek_root(const std::string& sha256) override;
  Result<std::vector<EkRoot>> ek_roots() override;

  const std::string& path() const { return path_; }
  std::string describe() const override { return path_; }

 private:
  struct Close {
    void operator()(sqlite3* db) const;
  };
  using Db = std::unique_ptr<sqlite3, Close>;

  // The connection reads use, locked for the caller: the reading one, else the writer's.
  struct ReadConn {
    std::unique_lock<std::mutex> lock;
    sqlite3* db;
    sqlite::StmtCache* stmts;  // db's
  };

  SqliteIssuanceStore(std::string path, Db db, const Options& options);
  Status prepare();      // check the file, apply the settings, create, upgrade or check the schema
  Status fill_spki();    // spki_sha256 of the rows that have none (upgrading to version 3)
  Status open_reader();  // the second connection, once the schema is in place
  ReadConn reader();
  // user_version now, on `db` (a read-only file may be older)
  Result<int64_t> schema_version(sqlite3* db, sqlite::StmtCache* stmts = nullptr);
  // writable() and a schema of at least `version`, which has `tables` (default: the node
  // registry's, version 2).
  Status registry_writable(int64_t version = 2, const char* tables = "bootstrap tokens");
  // Every row `sql` selects from a TPM registry table (with `node` bound to :node if given),
  // each read by `read`, in one snapshot; none from a schema older than version 4, and
  // `sql_v4` instead of `sql` (if given) from version 4 (sqlite_tpm_registry.cpp).
  template <typename Row>
  Result<std::vector<Row>> read_all(const char* sql, Row (*read)(const sqlite::Stmt&),
                                    const std::string* node = nullptr,
                                    const char* sql_v4 = nullptr);
  // An SQLite error as an Error; the message is read from `db` (default: the writer).
  // Its source is ErrorSource::database.
  tl::unexpected<Error> db_error(int rc, const std::string& doing, sqlite3* db = nullptr) const;
  tl::unexpected<Error> db_error_kind(int rc, const std::string& doing, sqlite3* db) const;
  // "SELECT <every column> FROM certs", with the DER or an empty blob in its place.
  const char* select(bool der) const;
  Result<std::vector<IssuedCert>> query(const ReadConn& r, const char* sql, const std::string* ca,
                                        const std::string* serial, const int64_t* before);

  std::string path_;
  Db db_;      // every write
  Db reader_;  // reads; null when opened read-only
  Options options_;
  bool lineage_ = true;      // the schema has renewed_from and spki_sha256 (version 3)
  bool attestation_ = true;  // the schema has the attest_* columns (version 4)
  std::mutex mu_;            // db_
  std::mutex read_mu_;       // reader_
  // Each connection's statements kept for reuse, under its mutex. Declared after the
  // connections, so that they are finalised before those close.
  std::unique_ptr<sqlite::StmtCache> write_stmts_;
  std::unique_ptr<sqlite::StmtCache> read_stmts_;
};

}  // namespace hwca::ca
