// Software keys and certificate requests made with plain OpenSSL, for tests of the signing
// core that need no token: the requests are what `openssl req` (with -addext) would make.
#pragma once

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/ossl.hpp"

namespace hwca::test {

using ExtPtr = std::unique_ptr<X509_EXTENSION, decltype(&X509_EXTENSION_free)>;

inline ossl::Ptr<EVP_PKEY> ec_key(const char* curve) {
  ossl::Ptr<EVP_PKEY> k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  if (!k) throw std::runtime_error(std::string("cannot make an EC key on ") + curve);
  return k;
}

inline ossl::Ptr<EVP_PKEY> rsa_key(size_t bits) {
  ossl::Ptr<EVP_PKEY> k(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
  if (!k) throw std::runtime_error("cannot make an RSA key of " + std::to_string(bits) + " bits");
  return k;
}

inline ossl::Ptr<EVP_PKEY> ed25519_key() {
  ossl::Ptr<EVP_PKEY> k(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!k) throw std::runtime_error("cannot make an Ed25519 key");
  return k;
}

// An RSA public key whose modulus has exactly `bits` bits (2^(bits-1) + 1, e = 65537):
// enough for checks that look only at the size, without generating a large key.
inline ossl::Ptr<EVP_PKEY> rsa_public_of_size(int bits) {
  ossl::Ptr<BIGNUM> n(BN_new());
  ossl::Ptr<BIGNUM> e(BN_new());
  if (!n || !e || BN_set_bit(n.get(), bits - 1) != 1 || BN_set_bit(n.get(), 0) != 1 ||
      BN_set_word(e.get(), 65537) != 1) {
    throw std::runtime_error("BIGNUM failed");
  }
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
  ossl::Ptr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld.get()));
  ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    throw std::runtime_error("cannot make an RSA public key");
  }
  return ossl::Ptr<EVP_PKEY>(key);
}

// A name from (attribute, value) entries, each its own RDN unless `join` adds it to the RDN
// before it (a multi-valued RDN, "CN=a+O=b"). `type` MBSTRING_UTF8 lets OpenSSL choose the
// string type and enforce the attribute's length limit (as `openssl req -subj` does);
// V_ASN1_UTF8STRING writes the value as it is (as a request made by other means may).
struct NameEntry {
  std::string attribute;
  std::string value;
  bool join = false;
  int type = MBSTRING_UTF8;
};
inline ossl::Ptr<X509_NAME> name_of(const std::vector<NameEntry>& entries) {
  ossl::Ptr<X509_NAME> name(X509_NAME_new());
  for (const auto& e : entries) {
    if (X509_NAME_add_entry_by_txt(name.get(), e.attribute.c_str(), e.type,
                                   reinterpret_cast<const unsigned char*>(e.value.data()),
                                   static_cast<int>(e.value.size()), -1, e.join ? -1 : 0) != 1) {
      throw std::runtime_error("cannot add " + e.attribute + "=" + e.value);
    }
  }
  return name;
}

// An extension in OpenSSL's configuration syntax, as `openssl req -addext NAME=VALUE` makes
// it: ext("subjectAltName", "DNS:a.example,IP:10.0.0.1"), ext("basicConstraints",
// "critical,CA:TRUE"), ext("1.2.3.4", "ASN1:UTF8String:x").
inline ExtPtr ext(const std::string& name, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, nullptr, nullptr, nullptr, nullptr, 0);
  X509_EXTENSION* e = X509V3_EXT_nconf(nullptr, &ctx, name.c_str(), value.c_str());
  if (e == nullptr) throw std::runtime_error("cannot make extension " + name + "=" + value);
  return ExtPtr(e, X509_EXTENSION_free);
}

// A subjectAltName extension holding exactly these names (which may be malformed: NULs,
// non-ASCII, odd IP lengths), built without OpenSSL's configuration parser.
inline ExtPtr san_ext(GENERAL_NAMES* names) {
  X509_EXTENSION* e = X509V3_EXT_i2d(NID_subject_alt_name, 0, names);
  GENERAL_NAMES_free(names);
  if (e == nullptr) throw std::runtime_error("cannot encode subjectAltName");
  return ExtPtr(e, X509_EXTENSION_free);
}

// One GENERAL_NAME of an IA5String type (GEN_DNS, GEN_EMAIL, GEN_URI) or GEN_IPADD with
// the given raw bytes.
inline GENERAL_NAME* general_name(int type, const std::string& bytes) {
  ASN1_STRING* s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
  ASN1_STRING_set(s, bytes.data(), static_cast<int>(bytes.size()));
  GENERAL_NAME* g = GENERAL_NAME_new();
  GENERAL_NAME_set0_value(g, type, s);
  return g;
}

// A CSR for `key` with `subject` and `extensions`, signed with `digest` (null for Ed25519).
inline ossl::Ptr<X509_REQ> make_csr(EVP_PKEY* key, const X509_NAME* subject,
                                    const std::vector<X509_EXTENSION*>& extensions = {},
                                    const char* digest = "SHA256") {
  ossl::Ptr<X509_REQ> req(X509_REQ_new());
  if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(req.get(), subject) != 1 ||
      X509_REQ_set_pubkey(req.get(), key) != 1) {
    throw std::runtime_error("cannot assemble a CSR");
  }
  if (!extensions.empty()) {
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    for (X509_EXTENSION* e : extensions) sk_X509_EXTENSION_push(exts, e);
    int ok = X509_REQ_add_extensions(req.get(), exts);
    sk_X509_EXTENSION_free(exts);  // the extensions stay the caller's
    if (ok != 1) throw std::runtime_error("cannot add the CSR's extensions");
  }
  const EVP_MD* md = digest == nullptr ? nullptr : EVP_get_digestbyname(digest);
  if (X509_REQ_sign(req.get(), key, md) <= 0) throw std::runtime_error("cannot sign the CSR");
  return req;
}

inline std::string csr_der(const X509_REQ* req) {
  unsigned char* der = nullptr;
  int len = i2d_X509_REQ(req, &der);
  if (len <= 0) throw std::runtime_error("cannot encode the CSR");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

inline std::string csr_pem(const X509_REQ* req) {
  ossl::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req) != 1) {
    throw std::runtime_error("cannot write the CSR in PEM");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// A CSR with CN=`cn` and these SANs (OpenSSL's syntax, "DNS:a,IP:10.0.0.1"; empty: none).
inline ossl::Ptr<X509_REQ> simple_csr(EVP_PKEY* key, const std::string& cn,
                                      const std::string& sans = "") {
  auto subject = name_of({{"CN", cn}});
  if (sans.empty()) return make_csr(key, subject.get());
  auto san = ext("subjectAltName", sans);
  return make_csr(key, subject.get(), {san.get()});
}

}  // namespace hwca::test
