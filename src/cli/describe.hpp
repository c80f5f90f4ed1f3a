// How the documents of -o json|yaml describe the things hwca handles: one description of a
// certificate, request, CRL, key and token, whichever command shows it, so that a script
// reads `serial` or `notAfter` the same way from cert list, cert show, sign and cert
// inspect (docs/cli.md, "Output for scripts").
#pragma once

#include <ctime>
#include <nlohmann/json.hpp>
#include <ostream>

#include "ca/issuance_store.hpp"
#include "common/ossl.hpp"
#include "tokens/keystore.hpp"

namespace hwca::cli {

// serial (lower-case hex, as 'hwca cert show' takes it), subject, issuer, notBefore,
// notAfter (RFC 3339 UTC), keyType, publicKeySha256, signatureAlgorithm, sans ("DNS:x",
// "IP:y", ...), keyUsage, extendedKeyUsage, basicConstraints ({ca, pathLength} or null),
// subjectKeyId, authorityKeyId (colon hex or null), sha256 (the fingerprint).
nlohmann::json certificate_json(const X509* cert);

// subject, keyType, publicKeySha256, signatureAlgorithm, signatureValid, the requested
// extensions as a certificate's fields (sans, keyUsage, ...) and requestedExtensions (the
// names of all of them).
nlohmann::json csr_json(X509_REQ* csr);

// issuer, number, thisUpdate, nextUpdate, authorityKeyId, signatureAlgorithm, sha256,
// revoked: [{serial, revokedAt, reason, reasonCode}].
nlohmann::json crl_json(const X509_CRL* crl);

// A record of the issuance database: the certificate's description (from its DER) with ca,
// profile, status (valid, expired, revoked), revokedAt, revocationReason, requester,
// renewedFrom and attestation (null when not attested).
nlohmann::json issued_json(const ca::IssuedCert& record, std::time_t now);

// "valid", "expired" or "revoked".
std::string issued_status(const ca::IssuedCert& record, std::time_t now);

// uri, label, id (a TPM key's name), type.
nlohmann::json key_json(const tokens::KeyInfo& key);
// The same with bits, attributes ({sensitive: true, ...}) and publicKey (PEM).
nlohmann::json key_json(const tokens::KeyAttributes& attributes);

// label, uri, manufacturer, model, serial, slot, flags.
nlohmann::json token_json(const tokens::TokenInfo& token);

// A description above as "label: value" lines (cert inspect's text): lists joined by ", ",
// null as "-", nested objects as "label.field".
void describe_text(std::ostream& out, const nlohmann::json& description);

}  // namespace hwca::cli
