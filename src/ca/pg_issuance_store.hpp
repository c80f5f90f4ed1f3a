// The issuance database in PostgreSQL, shared by several hwca instances (Database; libpq).
//
// The database is named by a libpq URL (postgresql://user@host:port/db?sslmode=...,
// host=/socket/folder for a Unix socket); a password never goes in it (pg_connection.hpp).
// Opening creates the schema, or upgrades it, under an advisory lock (two instances starting
// at once make it once); the version is the one row of hwca_schema.
//
// Correct under concurrency across instances because the database enforces it, not a
// process lock: (ca, serial) is unique; a bootstrap token is spent by a conditional update
// whose row count is checked, under the row's lock; a second revocation finds the row
// revoked and is refused; CRL numbers come from one atomic upsert per CA, so they strictly
// increase whichever instance asks. Each call leases a connection from a small pool; one
// whose server went away is dropped and made anew on a later call, so the store carries on
// without a restart once the server is back.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "ca/database.hpp"

namespace hwca::ca {
namespace pg {
class Pool;
class Connection;
class Params;
}  // namespace pg

class PgIssuanceStore : public Database, public CaCatalog {
 public:
  struct Options {
    bool read_only = false;  // every transaction read-only; the schema must exist
    size_t connections = 4;  // the pool's size
  };

  static Result<std::unique_ptr<PgIssuanceStore>> open(const std::string& url,
                                                       const Options& options);
  ~PgIssuanceStore() override;

  std::string describe() const override { return name_; }
  CaCatalog* catalog() override { return this; }

  // CaCatalog (pg_ca_catalog.cpp).
  Result<std::vector<SharedCa>> shared_cas() override;
  Status publish_ca(const SharedCa& ca) override;
  Status withdraw_ca(const std::string& name) override;
  Result<std::string> shared_profiles() override;
  Status publish_profiles(const std::string& yaml, int64_t when, const std::string& by) override;
  // publish_ca's row, in the caller's transaction on `conn` (hwca db migrate); `database`
  // names it in errors.
  static Status insert_ca(pg::Connection& conn, const SharedCa& ca, const std::string& database);
  // publish_profiles' row, likewise.
  static Status put_profiles(pg::Connection& conn, const std::string& yaml, int64_t when,
                             const std::string& by);

  Status writable() const override;
  Result<bool> serial_exists(const std::string& ca, const std::string& serial) override;
  Result<std::vector<std::string>> reserve_serials(
      const std::string& ca, const std::vector<std::string>& serials) override;
  Status record(const std::vector<IssuedCert>& batch) override;
  // One transaction when `audit` is this database's chain (PgAuditTrail).
  tl::expected<void, AuditedRecordError> record_audited(
      const std::vector<IssuedCert>& batch, AuditTrail& audit,
      const std::vector<AuditTrail::Event>& events) override;
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
  Status ping() override;
  Result<bool> holds_records() override;

  // NodeRegistry (pg_node_registry.cpp).
  Status add_token(const BootstrapToken& token, const Sha256& secret_sha256) override;
  Result<std::vector<BootstrapToken>> tokens() override;
  Status revoke_token(const std::string& id, int64_t when) override;
  Result<BootstrapToken> claim_token(const std::string& id, const std::string& node,
                                     const Sha256& secret_sha256, int64_t now) override;
  Status unclaim_token(const std::string& id) override;
  Result<std::optional<NodeRecord>> node(const std::string& name) override;

  // TpmRegistry (pg_tpm_registry.cpp).
  Status register_tpm(const NodeTpm& tpm) override;
  Status register_tpms(const std::vector<NodeTpm>& tpms) override;
  Status unregister_tpm(const std::string& node) override;
  Result<std::optional<NodeTpm>> tpm(const std::string& node) override;
  Result<std::vector<NodeTpm>> tpms() override;
  Status add_ek_root(const EkRoot& root) override;
  Status remove_ek_root(const std::string& sha256) override;
  Result<std::vector<EkRoot>> ek_roots() override;

 private:
  PgIssuanceStore(std::string name, std::unique_ptr<pg::Pool> pool, const Options& options);
  Status prepare_schema();  // pg_schema.cpp
  // `body` on a leased connection, in one transaction (`doing` for messages).
  Status in_transaction(const std::string& doing,
                        const std::function<Status(pg::Connection&)>& body);
  Result<std::vector<IssuedCert>> query(pg::Connection& conn, const char* sql,
                                        const pg::Params& params);
  // The rows of a checked batch, in the caller's transaction on `conn`.
  static Status insert_certs(pg::Connection& conn, const std::vector<IssuedCert>& batch);

  std::string name_;
  std::unique_ptr<pg::Pool> pool_;
  Options options_;
};

}  // namespace hwca::ca
