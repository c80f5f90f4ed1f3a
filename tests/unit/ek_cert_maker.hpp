// Certificates shaped as TPM makers' EK chains, made with OpenSSL for tests: a root, an
// intermediate, and EK certificates with an empty subject, a critical subjectAltName holding
// a directoryName of the TCG attributes (2.23.133.2.1 manufacturer, .2 model, .3 version)
// and the EK certificate EKU (2.23.133.8.1).
#pragma once

#include <openssl/x509v3.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "common/ossl.hpp"

namespace hwca::test {

struct EkCertSpec {
  std::string cn;   // empty: an EK certificate (empty subject, TCG SAN and EKU)
  bool ca = false;  // basicConstraints CA:TRUE
  long serial = 1;
  long not_before_days = -1;  // from now
  long not_after_days = 3650;
};

inline void add_ext(X509* x, X509* issuer, int nid, const char* value) {
  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
  if (ext == nullptr || X509_add_ext(x, ext, -1) != 1) throw std::runtime_error("extension");
  X509_EXTENSION_free(ext);
}

// The TCG subjectAltName: critical, one directoryName of the three TPM attributes.
inline void add_tcg_san(X509* x) {
  X509_NAME* dir = X509_NAME_new();
  const char* attrs[][2] = {
      {"2.23.133.2.1", "id:00001014"}, {"2.23.133.2.2", "swtpm"}, {"2.23.133.2.3", "id:20191023"}};
  for (const auto& a : attrs) {
    ASN1_OBJECT* oid = OBJ_txt2obj(a[0], 1);
    int ok = oid == nullptr ? 0
                            : X509_NAME_add_entry_by_OBJ(
                                  dir, oid, MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(a[1]), -1, -1, 1);
    ASN1_OBJECT_free(oid);
    if (ok != 1) throw std::runtime_error("TCG attribute");
  }
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  GENERAL_NAME* gn = GENERAL_NAME_new();
  GENERAL_NAME_set0_value(gn, GEN_DIRNAME, dir);
  sk_GENERAL_NAME_push(names, gn);
  int ok = X509_add1_ext_i2d(x, NID_subject_alt_name, names, /*crit=*/1, X509V3_ADD_DEFAULT);
  GENERAL_NAMES_free(names);
  if (ok != 1) throw std::runtime_error("subjectAltName");
}

// A certificate for `key` by `issuer` (null: self-signed with `key`).
inline ossl::Ptr<X509> make_ek_chain_cert(EVP_PKEY* key, const EkCertSpec& spec,
                                          X509* issuer = nullptr, EVP_PKEY* issuer_key = nullptr) {
  ossl::Ptr<X509> x(X509_new());
  ossl::Ptr<X509_NAME> name(X509_NAME_new());
  if (!spec.cn.empty()) {
    X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
  }
  X509* signer_cert = issuer != nullptr ? issuer : x.get();
  EVP_PKEY* signer_key = issuer_key != nullptr ? issuer_key : key;
  if (X509_set_version(x.get(), 2) != 1 ||
      ASN1_INTEGER_set(X509_get_serialNumber(x.get()), spec.serial) != 1 ||
      X509_set_subject_name(x.get(), name.get()) != 1 ||
      X509_set_issuer_name(x.get(),
                           issuer != nullptr ? X509_get_subject_name(issuer) : name.get()) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(x.get()), spec.not_before_days * 86400) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(x.get()), spec.not_after_days * 86400) == nullptr ||
      X509_set_pubkey(x.get(), key) != 1) {
    throw std::runtime_error("certificate fields");
  }
  if (spec.ca) {
    add_ext(x.get(), signer_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x.get(), signer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x.get(), signer_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x.get(), signer_cert, NID_key_usage,
            EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ? "critical,keyEncipherment"
                                                      : "critical,keyAgreement");
    add_ext(x.get(), signer_cert, NID_ext_key_usage, "2.23.133.8.1");
    add_tcg_san(x.get());
  }
  add_ext(x.get(), signer_cert, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) add_ext(x.get(), signer_cert, NID_authority_key_identifier, "keyid");
  if (X509_sign(x.get(), signer_key, EVP_sha256()) <= 0) throw std::runtime_error("sign");
  return x;
}

inline std::vector<uint8_t> der_of(X509* x) {
  unsigned char* der = nullptr;
  int len = i2d_X509(x, &der);
  if (len <= 0) throw std::runtime_error("encode");
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

}  // namespace hwca::test
