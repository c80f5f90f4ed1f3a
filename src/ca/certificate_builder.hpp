// Builds and signs X.509 v3 certificates with plain OpenSSL APIs; the issuer's key is an
// EVP_PKEY that may live in a token (through the hwca provider). Only what the spec says
// goes in: this is the one place certificates are assembled.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "ca/distribution_urls.hpp"
#include "ca/san.hpp"
#include "ca/serial.hpp"
#include "common/ossl.hpp"
#include "common/result.hpp"

namespace hwca::ca {

// NotBefore is set this far back, so that clocks a little behind accept a new certificate
// (as kubeadm does).
inline constexpr std::time_t kBackdateSeconds = 5 * 60;

struct CertificateSpec {
  const X509_NAME* subject = nullptr;
  EVP_PKEY* subject_key = nullptr;  // the public key to certify
  // The same key as a request carries it: copied field by field when given. Cheaper than
  // re-encoding subject_key, which OpenSSL 3.0 decodes again (docs/performance.md).
  const X509_PUBKEY* subject_spki = nullptr;
  const X509* issuer = nullptr;    // null: self-signed (issuer name = subject)
  EVP_PKEY* issuer_key = nullptr;  // signs the certificate
  Serial serial;
  std::time_t not_before = 0;
  std::time_t not_after = 0;
  bool ca = false;                  // basicConstraints, always critical
  std::optional<int> path_len;      // only with ca
  std::vector<int> key_usage_bits;  // keyUsage bit numbers (0 digitalSignature, 5 keyCertSign,
                                    // 6 cRLSign, ...), critical
  std::vector<int> ext_key_usage;   // NIDs (NID_server_auth, ...), not critical
  std::vector<San> sans;            // subjectAltName, critical only if the subject is empty
  DistributionUrls urls = {};       // the issuer's CRL and caIssuers URLs, not critical
};

// The digest hwca signs with for a key: SHA-384 for P-384, else SHA-256.
std::string signing_digest(const EVP_PKEY* key);

// Assemble, sign in `libctx` and check the signature with the issuer's public key.
Result<ossl::Ptr<X509>> build_certificate(const CertificateSpec& spec, OSSL_LIB_CTX* libctx);

// An ASN1_TIME (notBefore, notAfter, ...) as Unix seconds.
std::time_t unix_time(const ASN1_TIME* t);

// A certificate in PEM, and in DER (empty if it cannot be encoded).
std::string cert_pem(const X509* cert);
std::vector<uint8_t> cert_der(const X509* cert);

// Every PEM certificate of a file (at most 1 MiB), in order; a file without one is a usage
// error naming it.
Result<std::vector<ossl::Ptr<X509>>> read_pem_certificates(const std::string& path);

// Hex SHA-256 fingerprint of a certificate's DER, colon-separated upper case (as openssl).
std::string fingerprint_sha256(const X509* cert);
// The same from the DER itself: a certificate just signed has no cached encoding, and the
// issuer already holds its DER (cert_der), so this spares encoding it again.
std::string fingerprint_sha256(const std::vector<uint8_t>& der);

}  // namespace hwca::ca
