// Revocation and CRLs: a certificate of the issuance store is marked revoked (and audited),
// and a CA publishes an X.509 v2 CRL of everything it revoked, signed by its token key
// through the provider.
//
// CRL numbers come from the issuance store (1, 2, 3... per CA). A number is taken once the
// CA's key is loaded (a refused PIN takes none) and given back if the signature fails, so
// the numbers stay contiguous; only a CRL signed but not audited (so not handed out), or a
// number that could not be given back, leaves a gap (RFC 5280 5.2.3 asks only that they
// increase).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ca/crypto_context.hpp"
#include "ca/home.hpp"
#include "ca/issuance_store.hpp"
#include "ca/serial.hpp"
#include "common/ossl.hpp"
#include "common/result.hpp"

namespace hwca::ca {

// An RFC 5280 CRLReason by name (case-insensitive: unspecified, keyCompromise, cACompromise,
// affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn,
// aACompromise) or number (0-6, 9, 10). removeFromCRL (8, for delta CRLs, which hwca does not
// issue), 7 (unused) and anything else are a usage error listing the valid names.
Result<int> parse_crl_reason(const std::string& text);

// The RFC 5280 name of a CRLReason code ("keyCompromise"); "reason N" if it is none.
std::string crl_reason_name(int reason);

// `serial` is as the user typed it (normalise_serial(); messages name it so, serial_label()).
// Mark the certificate `serial` of CA `ca` revoked now, with `reason`, then append
// "cert.revoked" {ca, serial, subject, reason, requester} to the audit log. The CA must be in
// the home (not_found), the certificate in the store (not_found) and not yet revoked
// (conflict, saying when it was). Nothing is audited if the store refused the change.
Status revoke_certificate(Home& home, IssuanceStore& store, const std::string& ca,
                          const std::string& serial, int reason, const std::string& requester);

// The same for `serial` and, transitively, every certificate of the CA issued by renewal
// from it (the issuance store's renewed_from), in one database transaction, each audited
// "cert.revoked" (with "renewal_of" for the renewals) in one write. Those already revoked
// are left as they were (their renewals are followed); conflict if nothing was left to
// revoke. The certificates revoked come back, `serial` first if it was valid.
Result<std::vector<IssuedCert>> revoke_with_renewals(Home& home, IssuanceStore& store,
                                                     const std::string& ca,
                                                     const std::string& serial, int reason,
                                                     const std::string& requester);

inline constexpr int kDefaultCrlDays = 7;

struct CrlResult {
  ossl::Ptr<X509_CRL> crl;
  uint64_t number = 0;      // the cRLNumber extension
  size_t entries = 0;       // revoked certificates listed
  int64_t this_update = 0;  // Unix seconds
  int64_t next_update = 0;  // Unix seconds
};

// Build and sign CA `ca`'s CRL: version 2, issuer = the CA certificate's subject, thisUpdate
// now, nextUpdate `next_update_days` later (no later than the CA certificate's notAfter),
// cRLNumber (the store's next), authorityKeyIdentifier (the CA's subjectKeyIdentifier), one
// entry per revoked certificate (serial, revocation date, and a reasonCode unless the reason
// is unspecified, as RFC 5280 5.3.1 asks), in the store's order. The CA key is loaded from the
// token with `options`; the signature is checked with the CA certificate's public key. On
// success "crl.published" {ca, number, entries, next_update, sha256, requester} is audited.
Result<CrlResult> publish_crl(Home& home, IssuanceStore& store, const CryptoContext& crypto,
                              const std::string& ca, const tokens::OpenOptions& options,
                              int next_update_days, const std::string& requester);

// The CRL as PEM ("-----BEGIN X509 CRL-----") or DER.
Result<std::string> encode_crl(const X509_CRL* crl, bool der);

}  // namespace hwca::ca
