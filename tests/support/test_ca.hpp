// A software CA for tests that stand in for hwca serve: P-256 keys from OpenSSL's default
// provider, and certificates issued with the CA core's certificate builder.
#pragma once

#include <openssl/x509.h>

#include <ctime>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ca/certificate_builder.hpp"
#include "ca/serial.hpp"
#include "common/ossl.hpp"
#include "support/test_csr.hpp"

namespace hwca::test {

// A software P-256 key from OpenSSL's default provider.
inline ossl::Ptr<EVP_PKEY> software_key() {
  ossl::Ptr<EVP_PKEY> k(EVP_PKEY_Q_keygen(nullptr, ossl::kDefaultProps, "EC", "P-256"));
  if (!k) throw std::runtime_error("cannot make a P-256 key: " + ossl::take_errors());
  return k;
}

// A certificate for `key` named CN=`cn`: a CA's (self-signed) without `issuer`, else a leaf
// issued by `issuer` with `issuer_key` for `usage` (NID_server_auth or NID_client_auth).
inline ossl::Ptr<X509> certificate(const std::string& cn, EVP_PKEY* key, const X509* issuer,
                                   EVP_PKEY* issuer_key, int usage = NID_undef,
                                   std::vector<ca::San> sans = {},
                                   const std::vector<NameEntry>& subject_entries = {}) {
  auto subject =
      name_of(subject_entries.empty() ? std::vector<NameEntry>{{"CN", cn}} : subject_entries);
  ca::CertificateSpec spec;
  spec.subject = subject.get();
  spec.subject_key = key;
  spec.issuer = issuer;
  spec.issuer_key = issuer_key;
  spec.serial = *ca::Serial::random();
  spec.not_before = std::time(nullptr) - 60;
  spec.not_after = std::time(nullptr) + 3600;
  spec.ca = issuer == nullptr;
  spec.key_usage_bits = spec.ca ? std::vector<int>{0, 5} : std::vector<int>{0};
  if (usage != NID_undef) spec.ext_key_usage = {usage};
  spec.sans = std::move(sans);
  auto cert = ca::build_certificate(spec, nullptr);
  if (!cert) throw std::runtime_error("certificate " + cn + ": " + cert.error().message);
  return std::move(*cert);
}

}  // namespace hwca::test
