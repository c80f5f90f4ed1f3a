// Issuing certificates from a CA of the home. Every request goes the same way:
//
//   parse and verify the CSR -> apply the profile -> serial (random, unused) and validity
//   -> sign through the provider (the key stays in its token) -> record in the issuance
//   database (committed and synced) -> audit "cert.issued" -> hand out.
//
// Nothing is handed out before its record is durable: if recording fails, the certificate
// is dropped. A refused request is audited as "cert.rejected" with its reason. A batch
// shares one database transaction and one audit write, and is all or nothing.
#pragma once

#include <condition_variable>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ca/audit_trail.hpp"
#include "ca/crypto_context.hpp"
#include "ca/home.hpp"
#include "ca/issuance_store.hpp"
#include "ca/profile.hpp"
#include "ca/serial.hpp"
#include "common/ossl.hpp"

namespace hwca::ca {

struct SignRequest {
  std::string csr;     // PEM or DER
  std::string source;  // names the request in errors ("req.pem")
  std::string profile;
  std::optional<int> days;  // default: the profile's (then cut to the CA's end if need be)
  std::string requester;    // who asked ("cli:uid=0"), for the database and the audit log
  // The request already parsed and its signature checked (parse_csr), to save parsing it
  // again; `csr` is then only digested for the audit log. Not owned; outlives the call.
  X509_REQ* parsed = nullptr;
  // For a renewal: the serial of the certificate (of this CA) that authenticated it, kept
  // in the issuance database as the new certificate's lineage (renewed_from).
  std::string renewed_from = {};
  // For a request proven by TPM attestation (src/est): what it was attested with, lower-case
  // hex, kept in the issuance database and the cert.issued audit line.
  struct Attestation {
    std::string ek_sha256;  // SHA-256 of the EK's SubjectPublicKeyInfo (tpm_registry.hpp)
    std::string ak_name;    // the attestation key's TPM Name
    std::string key_name;   // the certified key's TPM Name
  };
  std::optional<Attestation> attestation = {};
  // The caller asked Issuer::key_compromised for this request's key just now and was told
  // no (the EST service does, to answer that refusal apart): the lookup is not made twice.
  bool key_checked = false;
};

struct IssuedCertificate {
  IssuedCert record;
  ossl::Ptr<X509> cert;
  bool clipped = false;  // notAfter was cut to the CA's
};

class Issuer {
 public:
  // CA `ca` of the home, ready to sign: its certificate must be valid now and not revoked
  // by its parent, and its key must be in the token and match the certificate.
  static Result<std::unique_ptr<Issuer>> open(const Home& home, const CryptoContext& crypto,
                                              IssuanceStore& store, const std::string& ca,
                                              const tokens::OpenOptions& key_options);
  // open() in two steps, for a caller that checks a request before the token is asked for
  // the key (and its PIN), so that a mistake in the request costs no PIN prompt and is
  // reported as itself: open_unkeyed() checks the CA (valid now, not revoked, the database
  // writable) without its key, precheck() checks a request as issue() will (the profile, the
  // request, the validity; a refusal is audited), and load_key() loads the key and checks
  // it is the certificate's. issue() and sign_unrecorded() need the key.
  static Result<std::unique_ptr<Issuer>> open_unkeyed(const Home& home, const CryptoContext& crypto,
                                                      IssuanceStore& store, const std::string& ca);
  Status precheck(const SignRequest& request);
  Status load_key(const tokens::OpenOptions& key_options);
  // A key the caller loaded itself (a software key, where no token is wanted: fuzzing),
  // checked as load_key() checks the token's: it must be the key of the CA's certificate.
  Status use_key(ossl::Ptr<EVP_PKEY> key);

  Result<IssuedCertificate> issue(const SignRequest& request);
  // All or nothing; safe to call from several threads at once.
  Result<std::vector<IssuedCertificate>> issue_batch(const std::vector<SignRequest>& requests);

  // The two halves of issuing, for a server that commits many requests together: sign()
  // checks and signs one request without recording it (a refusal is audited), and nothing
  // it returns may be handed out before commit() recorded and audited it. commit() is all
  // or nothing: on failure every certificate of the batch is audited as refused, and
  // none may be handed out. Both are safe to call from several threads at once. A failure
  // that is an outage (is_outage(): the token, the database, the audit log, the disk) is
  // not audited by these two: a server counts those and tells its operator instead of
  // writing one synced line per refused request.
  struct Signed {
    const SignRequest* request = nullptr;
    IssuedCertificate* cert = nullptr;
  };
  Result<IssuedCertificate> sign_unrecorded(const SignRequest& request);
  Status commit(const std::vector<Signed>& batch);

  // Called when a refusal's audit line cannot be written (from any thread; set it before
  // signing starts). By default the failure is dropped: the refusal is what the caller reports.
  void on_audit_error(std::function<void(const Error&)> handler) {
    audit_error_ = std::move(handler);
  }
  // Remember the end of the audit chain now (AuditTrail::anchor): the log being cut later is
  // noticed, and with `must_exist` a missing or empty log is refused.
  Status anchor_audit(bool must_exist) { return audit_->anchor(must_exist); }
  // Whether a certificate revoked for keyCompromise, of any CA of the store, has the
  // public key of `req`. Every request is checked so before it is signed (then refused as a
  // usage error); a server asks first to answer such a request apart. A store failure is
  // the store's Error.
  Result<bool> key_compromised(X509_REQ* req);
  // Whether the CA's config lets a renewal change the key (renewalKeyChange; default no).
  bool renewal_key_change() const;

  const std::string& ca_name() const { return name_; }
  const X509* ca_cert() const { return cert_.get(); }

 private:
  Issuer(const Home& home, const CryptoContext& crypto, IssuanceStore& store)
      : home_(home), crypto_(crypto), store_(store), audit_(open_audit(home)) {}
  struct Checked;  // a request that passed every check, with its certificate's contents
  Result<Checked> check(const SignRequest& request, std::time_t now);
  Result<IssuedCertificate> sign(Checked& checked);
  Status commit(const std::vector<Signed>& batch, bool audit_outage);
  // Audit a refusal, unless it is an outage and `audit_outage` is false.
  void reject(const SignRequest& request, const Error& why, bool audit_outage);
  // A serial reserved in the database (IssuanceStore::reserve_serials) and not yet used:
  // drawn at random and reserved in batches that grow from 1 to 256, so that a one-shot
  // command reserves one and a busy server writes once in 256.
  Result<Serial> next_serial();
  // `n` random serials, those of them the database reserved.
  Result<std::vector<Serial>> reserve_serials(size_t n);

  const Home& home_;
  const CryptoContext& crypto_;
  IssuanceStore& store_;
  std::unique_ptr<AuditTrail> audit_;  // the home's chain (audit_trail.hpp)
  std::string name_;
  ossl::Ptr<X509> cert_;
  ossl::Ptr<EVP_PKEY> key_;
  std::time_t ca_not_before_ = 0;
  std::time_t ca_not_after_ = 0;
  std::function<void(const Error&)> audit_error_;
  std::mutex serials_mu_;
  std::condition_variable serials_ready_;
  std::vector<Serial> serials_;  // reserved, unused
  size_t serial_batch_ = 1;      // the next batch's size
  bool refilling_ = false;       // a thread is reserving the next batch
};

// The refusal of a request whose key was revoked for keyCompromise (one line).
std::string compromised_key_message(const std::string& spki_sha256);

// Audit a request refused before or while it was examined ("cert.rejected"). Best effort:
// the refusal itself is what the caller reports; the audit log's failure is returned.
Status audit_rejection(AuditTrail& audit, const std::string& ca, const SignRequest& request,
                       const Error& why);

}  // namespace hwca::ca
