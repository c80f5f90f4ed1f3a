// The issuance database as the EST server uses it, timed: every call goes through to the
// database it wraps, and its duration and whether it failed for the database's sake (an
// error from the database itself: unreachable, down, full; not a refusal such as an
// unknown token) go to the server's metrics (hwca_database_seconds,
// hwca_database_errors_total).
#pragma once

#include "ca/database.hpp"
#include "est/metrics.hpp"

namespace hwca::est {

class MeteredDatabase : public ca::Database {
 public:
  MeteredDatabase(ca::Database& inner, Metrics& metrics) : inner_(inner), metrics_(metrics) {}

  std::string describe() const override { return inner_.describe(); }
  ca::CaCatalog* catalog() override { return inner_.catalog(); }

  Status writable() const override { return inner_.writable(); }
  Result<bool> serial_exists(const std::string& ca, const std::string& serial) override;
  Result<std::vector<std::string>> reserve_serials(
      const std::string& ca, const std::vector<std::string>& serials) override;
  Status record(const std::vector<ca::IssuedCert>& batch) override;
  tl::expected<void, AuditedRecordError> record_audited(
      const std::vector<ca::IssuedCert>& batch, ca::AuditTrail& audit,
      const std::vector<ca::AuditTrail::Event>& events) override;
  Result<std::optional<ca::IssuedCert>> find(const std::string& serial) override;
  Result<std::optional<ca::IssuedCert>> find(const std::string& ca,
                                             const std::string& serial) override;
  Result<std::vector<ca::IssuedCert>> list(const std::optional<std::string>& ca,
                                           const std::optional<int64_t>& expiring_before) override;
  Status revoke(const std::string& ca, const std::string& serial, int reason,
                int64_t when) override;
  Result<std::vector<ca::IssuedCert>> revoke_with_renewals(const std::string& ca,
                                                           const std::string& serial, int reason,
                                                           int64_t when) override;
  Result<std::vector<ca::IssuedCert>> renewals(const std::string& ca,
                                               const std::string& serial) override;
  Result<bool> key_compromised(const std::string& spki_sha256) override;
  Result<std::vector<ca::IssuedCert>> revoked(const std::string& ca) override;
  Result<uint64_t> next_crl_number(const std::string& ca) override;
  Status release_crl_number(const std::string& ca, uint64_t number) override;
  Status ping() override;
  Result<bool> holds_records() override;

  Status add_token(const ca::BootstrapToken& token, const ca::Sha256& secret_sha256) override;
  Result<std::vector<ca::BootstrapToken>> tokens() override;
  Status revoke_token(const std::string& id, int64_t when) override;
  Result<ca::BootstrapToken> claim_token(const std::string& id, const std::string& node,
                                         const ca::Sha256& secret_sha256, int64_t now) override;
  Status unclaim_token(const std::string& id) override;
  Result<std::optional<ca::NodeRecord>> node(const std::string& name) override;

  Status register_tpm(const ca::NodeTpm& tpm) override;
  Status register_tpms(const std::vector<ca::NodeTpm>& tpms) override;
  Status unregister_tpm(const std::string& node) override;
  Result<std::optional<ca::NodeTpm>> tpm(const std::string& node) override;
  Result<std::vector<ca::NodeTpm>> tpms() override;
  Status add_ek_root(const ca::EkRoot& root) override;
  Status remove_ek_root(const std::string& sha256) override;
  Result<std::vector<ca::EkRoot>> ek_roots() override;

 private:
  // `call()` timed; its result as it was.
  template <typename Call>
  auto timed(Call&& call) -> decltype(call());

  ca::Database& inner_;
  Metrics& metrics_;
};

}  // namespace hwca::est
