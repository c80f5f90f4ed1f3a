#include "est/metered_database.hpp"

#include <chrono>

namespace hwca::est {
namespace {

// The database's own failures (it is unreachable, down, read-only, full), not its refusals
// (an unknown token, a serial already revoked).
bool failed_for_database(const Error& e) {
  return e.source == ErrorSource::database || e.kind == ErrorKind::io;
}

}  // namespace

template <typename Call>
auto MeteredDatabase::timed(Call&& call) -> decltype(call()) {
  const auto start = std::chrono::steady_clock::now();
  auto result = call();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  metrics_.database_call(took.count(), !result && failed_for_database(result.error()));
  return result;
}

// Each call goes through as it is, timed.
#define HWCA_METERED(call) return timed([&] { return inner_.call; })

Result<bool> MeteredDatabase::serial_exists(const std::string& ca, const std::string& serial) {
  HWCA_METERED(serial_exists(ca, serial));
}
Result<std::vector<std::string>> MeteredDatabase::reserve_serials(
    const std::string& ca, const std::vector<std::string>& serials) {
  HWCA_METERED(reserve_serials(ca, serials));
}
Status MeteredDatabase::record(const std::vector<ca::IssuedCert>& batch) {
  HWCA_METERED(record(batch));
}
// The inner database's own commit point (one transaction on PostgreSQL), timed as one call.
tl::expected<void, ca::IssuanceStore::AuditedRecordError> MeteredDatabase::record_audited(
    const std::vector<ca::IssuedCert>& batch, ca::AuditTrail& audit,
    const std::vector<ca::AuditTrail::Event>& events) {
  const auto start = std::chrono::steady_clock::now();
  auto result = inner_.record_audited(batch, audit, events);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  metrics_.database_call(took.count(), !result && failed_for_database(result.error().error));
  return result;
}
Result<std::optional<ca::IssuedCert>> MeteredDatabase::find(const std::string& serial) {
  HWCA_METERED(find(serial));
}
Result<std::optional<ca::IssuedCert>> MeteredDatabase::find(const std::string& ca,
                                                            const std::string& serial) {
  HWCA_METERED(find(ca, serial));
}
Result<std::vector<ca::IssuedCert>> MeteredDatabase::list(
    const std::optional<std::string>& ca, const std::optional<int64_t>& expiring_before) {
  HWCA_METERED(list(ca, expiring_before));
}
Status MeteredDatabase::revoke(const std::string& ca, const std::string& serial, int reason,
                               int64_t when) {
  HWCA_METERED(revoke(ca, serial, reason, when));
}
Result<std::vector<ca::IssuedCert>> MeteredDatabase::revoke_with_renewals(const std::string& ca,
                                                                          const std::string& serial,
                                                                          int reason,
                                                                          int64_t when) {
  HWCA_METERED(revoke_with_renewals(ca, serial, reason, when));
}
Result<std::vector<ca::IssuedCert>> MeteredDatabase::renewals(const std::string& ca,
                                                              const std::string& serial) {
  HWCA_METERED(renewals(ca, serial));
}
Result<bool> MeteredDatabase::key_compromised(const std::string& spki_sha256) {
  HWCA_METERED(key_compromised(spki_sha256));
}
Result<std::vector<ca::IssuedCert>> MeteredDatabase::revoked(const std::string& ca) {
  HWCA_METERED(revoked(ca));
}
Result<uint64_t> MeteredDatabase::next_crl_number(const std::string& ca) {
  HWCA_METERED(next_crl_number(ca));
}
Status MeteredDatabase::release_crl_number(const std::string& ca, uint64_t number) {
  HWCA_METERED(release_crl_number(ca, number));
}
Status MeteredDatabase::ping() { HWCA_METERED(ping()); }
Result<bool> MeteredDatabase::holds_records() { HWCA_METERED(holds_records()); }

Status MeteredDatabase::add_token(const ca::BootstrapToken& token,
                                  const ca::Sha256& secret_sha256) {
  HWCA_METERED(add_token(token, secret_sha256));
}
Result<std::vector<ca::BootstrapToken>> MeteredDatabase::tokens() { HWCA_METERED(tokens()); }
Status MeteredDatabase::revoke_token(const std::string& id, int64_t when) {
  HWCA_METERED(revoke_token(id, when));
}
Result<ca::BootstrapToken> MeteredDatabase::claim_token(const std::string& id,
                                                        const std::string& node,
                                                        const ca::Sha256& secret_sha256,
                                                        int64_t now) {
  HWCA_METERED(claim_token(id, node, secret_sha256, now));
}
Status MeteredDatabase::unclaim_token(const std::string& id) { HWCA_METERED(unclaim_token(id)); }
Result<std::optional<ca::NodeRecord>> MeteredDatabase::node(const std::string& name) {
  HWCA_METERED(node(name));
}

Status MeteredDatabase::register_tpm(const ca::NodeTpm& tpm) { HWCA_METERED(register_tpm(tpm)); }
Status MeteredDatabase::register_tpms(const std::vector<ca::NodeTpm>& tpms) {
  HWCA_METERED(register_tpms(tpms));
}
Status MeteredDatabase::unregister_tpm(const std::string& node) {
  HWCA_METERED(unregister_tpm(node));
}
Result<std::optional<ca::NodeTpm>> MeteredDatabase::tpm(const std::string& node) {
  HWCA_METERED(tpm(node));
}
Result<std::vector<ca::NodeTpm>> MeteredDatabase::tpms() { HWCA_METERED(tpms()); }
Status MeteredDatabase::add_ek_root(const ca::EkRoot& root) { HWCA_METERED(add_ek_root(root)); }
Status MeteredDatabase::remove_ek_root(const std::string& sha256) {
  HWCA_METERED(remove_ek_root(sha256));
}
Result<std::vector<ca::EkRoot>> MeteredDatabase::ek_roots() { HWCA_METERED(ek_roots()); }

#undef HWCA_METERED

}  // namespace hwca::est
