// publish_crl: an X.509 v2 CRL assembled with plain OpenSSL APIs and signed by the CA's
// token key through the provider (revocation.hpp).
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "ca/audit_trail.hpp"
#include "ca/ca_init.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/crypto_context.hpp"
#include "ca/revocation.hpp"
#include "common/text.hpp"

namespace hwca::ca {
namespace {

constexpr int kMaxCrlDays = 3650;

// The INTEGER a stored serial names (lower-case hex of the content octets, positive);
// null if the text is not that.
ossl::Ptr<ASN1_INTEGER> serial_integer(const std::string& hex) {
  constexpr size_t kMaxOctets = 126;
  if (hex.empty() || hex.size() % 2 != 0 || hex.size() / 2 > kMaxOctets ||
      hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return nullptr;
  }
  BIGNUM* raw = nullptr;
  if (BN_hex2bn(&raw, hex.c_str()) != static_cast<int>(hex.size())) {
    BN_free(raw);
    return nullptr;
  }
  ossl::Ptr<BIGNUM> bn(raw);
  return ossl::Ptr<ASN1_INTEGER>(BN_to_ASN1_INTEGER(bn.get(), nullptr));
}

// One CRL entry: serial, revocationDate, and reasonCode unless the reason is unspecified.
Status add_entry(X509_CRL* crl, const IssuedCert& cert) {
  auto serial = serial_integer(cert.serial);
  if (!serial) {
    return fail(ErrorKind::internal,
                "the issuance database holds a malformed serial '" + printable(cert.serial) + "'");
  }
  X509_REVOKED* entry = X509_REVOKED_new();
  ASN1_TIME* when = ASN1_TIME_set(nullptr, static_cast<std::time_t>(cert.revoked_at));
  bool ok = entry != nullptr && when != nullptr &&
            X509_REVOKED_set_serialNumber(entry, serial.get()) == 1 &&
            X509_REVOKED_set_revocationDate(entry, when) == 1;
  ASN1_TIME_free(when);
  if (ok && cert.revocation_reason != 0) {
    ASN1_ENUMERATED* reason = ASN1_ENUMERATED_new();
    ok = reason != nullptr && ASN1_ENUMERATED_set(reason, cert.revocation_reason) == 1 &&
         X509_REVOKED_add1_ext_i2d(entry, NID_crl_reason, reason, 0, X509V3_ADD_REPLACE) == 1;
    ASN1_ENUMERATED_free(reason);
  }
  if (!ok || X509_CRL_add0_revoked(crl, entry) != 1) {
    X509_REVOKED_free(entry);
    return fail(ErrorKind::internal,
                "cannot add certificate " + cert.serial + " to the CRL: " + ossl::take_errors());
  }
  return {};
}

// cRLNumber and authorityKeyIdentifier (the CA's subjectKeyIdentifier), both non-critical.
Status add_crl_extensions(X509_CRL* crl, uint64_t number, const X509* ca_cert) {
  ossl::Ptr<ASN1_INTEGER> n(ASN1_INTEGER_new());
  if (!n || ASN1_INTEGER_set_uint64(n.get(), number) != 1 ||
      X509_CRL_add1_ext_i2d(crl, NID_crl_number, n.get(), 0, X509V3_ADD_REPLACE) != 1) {
    return fail(ErrorKind::internal, "cannot add the CRL number: " + ossl::take_errors());
  }
  const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(ca_cert));
  if (ski == nullptr) {
    return fail(ErrorKind::usage, "the CA certificate has no subjectKeyIdentifier");
  }
  AUTHORITY_KEYID* akid = AUTHORITY_KEYID_new();
  bool ok =
      akid != nullptr && (akid->keyid = ASN1_OCTET_STRING_dup(ski)) != nullptr &&
      X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, X509V3_ADD_REPLACE) == 1;
  AUTHORITY_KEYID_free(akid);
  if (!ok) return fail(ErrorKind::internal, "cannot add authorityKeyIdentifier to the CRL");
  return {};
}

// Assemble and sign the CRL numbered `number` with the CA's key, and check its signature.
Result<ossl::Ptr<X509_CRL>> sign_crl(const CryptoContext& crypto, const std::string& ca,
                                     const X509* cert, EVP_PKEY* key, uint64_t number,
                                     const std::vector<IssuedCert>& revoked, std::time_t now,
                                     std::time_t next_update) {
  ossl::Ptr<X509_CRL> crl(X509_CRL_new_ex(crypto.libctx(), nullptr));
  ASN1_TIME* last = ASN1_TIME_set(nullptr, now);
  ASN1_TIME* next = ASN1_TIME_set(nullptr, next_update);
  bool ok = crl && last != nullptr && next != nullptr &&
            X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) == 1 &&
            X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(cert)) == 1 &&
            X509_CRL_set1_lastUpdate(crl.get(), last) == 1 &&
            X509_CRL_set1_nextUpdate(crl.get(), next) == 1;
  ASN1_TIME_free(last);
  ASN1_TIME_free(next);
  if (!ok) return fail(ErrorKind::internal, "cannot assemble the CRL: " + ossl::take_errors());
  if (auto added = add_crl_extensions(crl.get(), number, cert); !added) {
    return tl::unexpected(added.error());
  }
  for (const auto& entry : revoked) {
    if (auto added = add_entry(crl.get(), entry); !added) return tl::unexpected(added.error());
  }

  ossl::Ptr<EVP_MD_CTX> mctx(EVP_MD_CTX_new());
  std::string digest = signing_digest(key);
  if (!mctx ||
      EVP_DigestSignInit_ex(mctx.get(), nullptr, digest.c_str(), crypto.libctx(), nullptr, key,
                            nullptr) != 1 ||
      X509_CRL_sign_ctx(crl.get(), mctx.get()) <= 0) {
    return tl::unexpected(provider_error(ErrorKind::device,
                                         "signing the CRL of CA '" + ca + "' failed",
                                         /*prefix_ours=*/true));
  }
  if (X509_CRL_verify(crl.get(), X509_get0_pubkey(cert)) != 1) {
    ERR_clear_error();
    return fail(ErrorKind::device, "the token returned a signature for the CRL of CA '" + ca +
                                       "' that does not verify with its certificate");
  }

  return crl;
}

}  // namespace

Result<CrlResult> publish_crl(Home& home, IssuanceStore& store, const CryptoContext& crypto,
                              const std::string& ca, const tokens::OpenOptions& options,
                              int next_update_days, const std::string& requester) {
  if (next_update_days <= 0 || next_update_days > kMaxCrlDays) {
    return fail(ErrorKind::usage, "a CRL's next update is 1 to " + std::to_string(kMaxCrlDays) +
                                      " days ahead, not " + std::to_string(next_update_days));
  }
  auto ca_cert = load_ca_cert(home, ca);
  if (!ca_cert) return tl::unexpected(ca_cert.error());
  const X509* cert = ca_cert->get();
  const std::time_t now = std::time(nullptr);
  const std::time_t not_after = unix_time(X509_get0_notAfter(cert));
  if (not_after <= now) {
    return fail(ErrorKind::usage, "CA '" + ca + "' has expired: it cannot publish a CRL");
  }
  const std::time_t next_update =
      std::min(now + static_cast<std::time_t>(next_update_days) * 86400, not_after);

  // The store first (it may refuse, e.g. read-only), then the token (a PIN refused costs no
  // CRL number), then the number, given back if the CRL is not published.
  auto revoked = store.revoked(ca);
  if (!revoked) return wrap(revoked.error(), "no CRL for CA '" + ca + "'");
  if (auto ok = store.writable(); !ok) return wrap(ok.error(), "no CRL for CA '" + ca + "'");
  auto key = load_ca_key(home, crypto, ca, cert, options);
  if (!key) return tl::unexpected(key.error());
  auto number = store.next_crl_number(ca);
  if (!number) return wrap(number.error(), "no CRL for CA '" + ca + "'");
  auto crl = sign_crl(crypto, ca, cert, key->get(), *number, *revoked, now, next_update);
  if (!crl) {
    // Not signed: the number is given back (best effort; else a gap, as RFC 5280 allows).
    (void)store.release_crl_number(ca, *number);
    return tl::unexpected(crl.error());
  }
  // Signed: from here the number stays taken, even if the CRL is not published (an audit
  // line may have been written in part).
  auto der = encode_crl(crl->get(), /*der=*/true);
  if (!der) return tl::unexpected(der.error());
  auto audit_trail = open_audit(home);
  AuditTrail& audit = *audit_trail;
  nlohmann::json data = {{"ca", ca},
                         {"number", *number},
                         {"entries", revoked->size()},
                         {"next_update", static_cast<int64_t>(next_update)},
                         {"sha256", sha256_hex(*der)},
                         {"requester", requester}};
  if (auto logged = audit.append("crl.published", data); !logged) {
    return wrap(logged.error(),
                "CRL #" + std::to_string(*number) + " of CA '" + ca + "' not published");
  }
  return CrlResult{std::move(*crl), *number, revoked->size(), static_cast<int64_t>(now),
                   static_cast<int64_t>(next_update)};
}

Result<std::string> encode_crl(const X509_CRL* crl, bool der) {
  auto* x = const_cast<X509_CRL*>(crl);
  if (der) {
    unsigned char* out = nullptr;
    int len = i2d_X509_CRL(x, &out);
    if (len <= 0) return fail(ErrorKind::internal, "cannot encode the CRL: " + ossl::take_errors());
    std::string bytes(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    OPENSSL_free(out);
    return bytes;
  }
  ossl::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), x) != 1) {
    return fail(ErrorKind::internal, "cannot encode the CRL: " + ossl::take_errors());
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace hwca::ca
