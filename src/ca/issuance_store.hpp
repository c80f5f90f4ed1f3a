// The issuance database: every certificate the CA signs is recorded here before it is handed
// out, together with its revocation state; CRL numbers are kept here too. This is the
// interface; SqliteIssuanceStore (one CA host) and PgIssuanceStore (several CA instances on
// one PostgreSQL database) implement it.
//
// Serials are the lower-case hex of the serial's content octets, as in the certificate
// ("01ab"); lookups also accept upper case. A serial is unique per CA, not across CAs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ca/audit_trail.hpp"
#include "common/result.hpp"

namespace hwca::ca {

struct IssuedCert {
  std::string serial;  // lower-case hex of the serial's content octets, as in the certificate
  std::string ca;
  std::string profile;
  std::string subject;            // one-line RFC 2253 text
  std::vector<std::string> sans;  // "DNS:a.example", "IP:10.0.0.1", ... in certificate order
  int64_t not_before = 0;         // Unix seconds
  int64_t not_after = 0;          // Unix seconds
  std::string requester;          // who asked, e.g. "cli:uid=0"
  std::vector<uint8_t> der;       // the certificate
  bool revoked = false;
  int64_t revoked_at = 0;     // Unix seconds
  int revocation_reason = 0;  // RFC 5280 CRLReason code
  // Lineage (schema version 3): the serial of the certificate of the same CA that
  // authenticated the renewal this certificate was issued by (empty if it was not a
  // renewal), and the SHA-256 of its SubjectPublicKeyInfo (spki.hpp; empty if unknown).
  std::string renewed_from;
  std::string spki_sha256;
  // For a certificate issued by TPM attestation (schema version 4), lower-case hex: the
  // SHA-256 of the EK's SubjectPublicKeyInfo, the AK's TPM Name and the certified key's TPM
  // Name. All empty if it was not attested (or unknown).
  std::string attest_ek_sha256;
  std::string attest_ak_name;
  std::string attest_key_name;

  bool operator==(const IssuedCert&) const = default;
};

// RFC 5280 CRLReason: 0-10, 7 is unused.
inline bool valid_crl_reason(int reason) { return reason >= 0 && reason <= 10 && reason != 7; }

class IssuanceStore {
 public:
  virtual ~IssuanceStore() = default;

  // Whether writes can succeed (a read-only database says so here, before a CA key is used
  // to sign something that could not be recorded).
  virtual Status writable() const = 0;

  virtual Result<bool> serial_exists(const std::string& ca, const std::string& serial) = 0;

  // Take serials for CA `ca` before the token signs with them: each is written to the
  // database, in one transaction, durable when it returns, unless the CA used it already
  // (reserved or recorded; that one is left out). Returns those taken, in the order given.
  // A serial is so never signed under twice, by any process or instance, and every serial
  // signed under is known to the database even if its certificate is never recorded.
  virtual Result<std::vector<std::string>> reserve_serials(
      const std::string& ca, const std::vector<std::string>& serials) = 0;

  // All or nothing, in one transaction, durable (committed and synced) when it returns. A
  // serial that CA already used (stored, or twice in the batch) fails the whole batch with
  // ErrorKind::conflict and records nothing.
  virtual Status record(const std::vector<IssuedCert>& batch) = 0;
  // The commit point of issuing: record `batch` (as record() does) and append its audit
  // lines `events` to `audit`. Where this database holds that audit chain too (PostgreSQL),
  // in one transaction: both or neither, whatever happens to the process. Elsewhere the
  // record first, then the lines (record() and append_all(), which derived stores and tests
  // may intercept); `recorded` in the error then says the batch stayed recorded without
  // its lines.
  struct AuditedRecordError {
    Error error;
    bool recorded = false;
  };
  virtual tl::expected<void, AuditedRecordError> record_audited(
      const std::vector<IssuedCert>& batch, AuditTrail& audit,
      const std::vector<AuditTrail::Event>& events);

  // The certificate with this serial, from any CA; ErrorKind::conflict if several CAs used
  // it (then ask for the CA and use the overload below).
  virtual Result<std::optional<IssuedCert>> find(const std::string& serial) = 0;
  virtual Result<std::optional<IssuedCert>> find(const std::string& ca,
                                                 const std::string& serial) = 0;

  // Certificates of one CA (or all) whose not_after is before `expiring_before` (or all),
  // ordered by not_after, then serial, then CA.
  virtual Result<std::vector<IssuedCert>> list(const std::optional<std::string>& ca,
                                               const std::optional<int64_t>& expiring_before) = 0;

  // Unknown certificate: not_found; already revoked: conflict; a reason that is not a
  // CRLReason (0-10 except 7): usage. Durable when it returns.
  virtual Status revoke(const std::string& ca, const std::string& serial, int reason,
                        int64_t when) = 0;

  // Revoke `serial` of CA `ca` and, transitively, every certificate of that CA issued by
  // renewal from it (renewed_from), all with `reason` at `when`, in one transaction,
  // durable when it returns. The certificates revoked now come back, `serial` first if it
  // was valid, then its renewals, each before those renewed from it; one already revoked is
  // left as it was, but the renewals from it are followed. Unknown certificate: not_found;
  // nothing left to revoke: conflict; a reason that is not a CRLReason: usage.
  virtual Result<std::vector<IssuedCert>> revoke_with_renewals(const std::string& ca,
                                                               const std::string& serial,
                                                               int reason, int64_t when) = 0;

  // The certificates of CA `ca` issued by renewal from `serial` (directly), by serial.
  virtual Result<std::vector<IssuedCert>> renewals(const std::string& ca,
                                                   const std::string& serial) = 0;

  // Whether a certificate revoked for keyCompromise, of any CA, is for the key whose
  // SubjectPublicKeyInfo has this SHA-256 (spki.hpp).
  virtual Result<bool> key_compromised(const std::string& spki_sha256) = 0;

  // The CA's revoked certificates for a CRL, ordered by revocation time then serial; `der`
  // is left empty.
  virtual Result<std::vector<IssuedCert>> revoked(const std::string& ca) = 0;

  // 1, 2, 3... per CA, atomically incremented and durable when it returns.
  virtual Result<uint64_t> next_crl_number(const std::string& ca) = 0;
  // Give back `number`, taken by next_crl_number() for a CRL that was not published (its
  // signature failed): the next call returns it again, so the numbers stay contiguous. Only
  // the last number taken can be: if another was taken since, nothing changes (a gap).
  // Durable when it returns.
  virtual Status release_crl_number(const std::string& ca, uint64_t number) = 0;

  // A cheap read that fails when the database cannot be read (a server's health check).
  virtual Status ping() = 0;

  // Whether the database holds anything the audit log must account for: a certificate, a
  // bootstrap token, a node's TPM or an EK root.
  virtual Result<bool> holds_records() = 0;
};

}  // namespace hwca::ca
