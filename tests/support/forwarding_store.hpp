// An IssuanceStore that passes every call to another one: benchmarks and tests derive from
// it to time or count the calls they care about and leave the rest alone.
#pragma once

#include "ca/issuance_store.hpp"

namespace hwca::test {

class ForwardingStore : public ca::IssuanceStore {
 public:
  explicit ForwardingStore(ca::IssuanceStore& inner) : inner_(inner) {}
  Status writable() const override { return inner_.writable(); }
  Result<bool> serial_exists(const std::string& ca, const std::string& serial) override {
    return inner_.serial_exists(ca, serial);
  }
  Result<std::vector<std::string>> reserve_serials(
      const std::string& ca, const std::vector<std::string>& serials) override {
    return inner_.reserve_serials(ca, serials);
  }
  Status record(const std::vector<ca::IssuedCert>& batch) override { return inner_.record(batch); }
  Result<std::optional<ca::IssuedCert>> find(const std::string& serial) override {
    return inner_.find(serial);
  }
  Result<std::optional<ca::IssuedCert>> find(const std::string& ca,
                                             const std::string& serial) override {
    return inner_.find(ca, serial);
  }
  Result<std::vector<ca::IssuedCert>> list(const std::optional<std::string>& ca,
                                           const std::optional<int64_t>& before) override {
    return inner_.list(ca, before);
  }
  Status revoke(const std::string& ca, const std::string& serial, int reason,
                int64_t when) override {
    return inner_.revoke(ca, serial, reason, when);
  }
  Result<std::vector<ca::IssuedCert>> revoke_with_renewals(const std::string& ca,
                                                           const std::string& serial, int reason,
                                                           int64_t when) override {
    return inner_.revoke_with_renewals(ca, serial, reason, when);
  }
  Result<std::vector<ca::IssuedCert>> renewals(const std::string& ca,
                                               const std::string& serial) override {
    return inner_.renewals(ca, serial);
  }
  Result<bool> key_compromised(const std::string& spki_sha256) override {
    return inner_.key_compromised(spki_sha256);
  }
  Result<std::vector<ca::IssuedCert>> revoked(const std::string& ca) override {
    return inner_.revoked(ca);
  }
  Result<uint64_t> next_crl_number(const std::string& ca) override {
    return inner_.next_crl_number(ca);
  }
  Status release_crl_number(const std::string& ca, uint64_t number) override {
    return inner_.release_crl_number(ca, number);
  }
  Status ping() override { return inner_.ping(); }
  Result<bool> holds_records() override { return inner_.holds_records(); }

 protected:
  ca::IssuanceStore& inner_;
};

}  // namespace hwca::test
