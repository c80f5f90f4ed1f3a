#include "bench/bench_key.hpp"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

#include "tokens/registry.hpp"

namespace hwca::bench {

using test::RawPkcs11;

namespace {

constexpr size_t kMessageSize = 256;

const char* group_name(tokens::KeyType t) {
  switch (t) {
    case tokens::KeyType::ec_p256:
      return "prime256v1";
    case tokens::KeyType::ec_p384:
      return "secp384r1";
    default:
      return nullptr;
  }
}

}  // namespace

std::string openssl_errors() {
  std::string s = ossl::take_errors();
  return s.empty() ? "no detail from OpenSSL" : s;
}

BenchKey generate_key(const test::SoftHsmToken& token, tokens::KeyType type,
                      const std::string& label) {
  BenchKey k;
  k.type = type;
  k.rsa = tokens::is_rsa(type);
  k.label = label;
  k.uri = token.key_uri(label);
  tokens::OpenOptions oo;
  oo.module = token.module();
  oo.pin_source = token.pin_source();
  auto store = tokens::open_store(k.uri, oo);
  if (!store) throw std::runtime_error("open_store: " + store.error().message);
  std::fprintf(stderr, "generating %s in the token...\n", tokens::key_type_name(type));
  auto info = (*store)->create_key(tokens::CreateKeyRequest{k.uri, type});
  if (!info) throw std::runtime_error("create_key: " + info.error().message);
  return k;
}

tokens::OpenOptions key_load_options(const test::SoftHsmToken& token) {
  tokens::OpenOptions options;
  options.pin_source = token.pin_source();
  options.module = token.module();
  return options;
}

ossl::Ptr<EVP_PKEY> read_public_key(RawPkcs11& raw, CK_SESSION_HANDLE s, const BenchKey& key) {
  CK_OBJECT_HANDLE obj = raw.find(s, CKO_PUBLIC_KEY, key.label);
  auto attr = [&](CK_ATTRIBUTE_TYPE type, const char* name) {
    std::vector<unsigned char> v;
    CK_RV rv = raw.get_attribute(s, obj, type, &v);
    if (rv != CKR_OK) {
      throw std::runtime_error(std::string("reading ") + name + ": " + hwca::test::ck_rv_text(rv));
    }
    return v;
  };
  ossl::Ptr<EVP_PKEY_CTX> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, key.rsa ? "RSA" : "EC", ossl::kDefaultProps));
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> owned_bld(OSSL_PARAM_BLD_new(),
                                                                            OSSL_PARAM_BLD_free);
  OSSL_PARAM_BLD* bld = owned_bld.get();
  ossl::Ptr<BIGNUM> n, e;
  std::vector<unsigned char> point;
  bool ok = ctx && bld != nullptr;
  if (ok && key.rsa) {
    auto mod = attr(CKA_MODULUS, "CKA_MODULUS");
    auto exp = attr(CKA_PUBLIC_EXPONENT, "CKA_PUBLIC_EXPONENT");
    n.reset(BN_bin2bn(mod.data(), static_cast<int>(mod.size()), nullptr));
    e.reset(BN_bin2bn(exp.data(), static_cast<int>(exp.size()), nullptr));
    ok = n && e && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n.get()) == 1 &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e.get()) == 1;
  } else if (ok) {
    auto der = attr(CKA_EC_POINT, "CKA_EC_POINT");  // DER OCTET STRING holding the point
    const unsigned char* p = der.data();
    ASN1_OCTET_STRING* os = d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(der.size()));
    if (os != nullptr && p == der.data() + der.size()) {
      point.assign(ASN1_STRING_get0_data(os), ASN1_STRING_get0_data(os) + ASN1_STRING_length(os));
    } else {
      point = der;  // a token that returns the bare point
    }
    ASN1_OCTET_STRING_free(os);
    ERR_clear_error();
    ok = OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group_name(key.type),
                                         0) == 1 &&
         OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                          point.size()) == 1;
  }
  ossl::Ptr<OSSL_PARAM> params(ok ? OSSL_PARAM_BLD_to_param(bld) : nullptr);
  EVP_PKEY* pkey = nullptr;
  ok = params && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
       EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) == 1;
  if (!ok) {
    throw std::runtime_error("cannot build the public key of " + key.label + ": " +
                             openssl_errors());
  }
  return ossl::Ptr<EVP_PKEY>(pkey);
}

std::vector<unsigned char> spki_der(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey, &der);
  std::vector<unsigned char> out;
  if (len > 0) out.assign(der, der + len);
  OPENSSL_free(der);
  return out;
}

Input make_input() {
  Input in;
  in.message.resize(kMessageSize);
  for (size_t i = 0; i < kMessageSize; ++i) in.message[i] = static_cast<unsigned char>(i * 7 + 3);
  in.digest.resize(32);
  unsigned int len = 0;
  if (EVP_Digest(in.message.data(), in.message.size(), in.digest.data(), &len, EVP_sha256(),
                 nullptr) != 1 ||
      len != 32) {
    throw std::runtime_error("SHA-256 failed: " + openssl_errors());
  }
  // RFC 8017 9.2 note 1: the DER prefix of a SHA-256 DigestInfo.
  static const unsigned char kPrefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                          0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                          0x01, 0x05, 0x00, 0x04, 0x20};
  in.digest_info.assign(kPrefix, kPrefix + sizeof kPrefix);
  in.digest_info.insert(in.digest_info.end(), in.digest.begin(), in.digest.end());
  return in;
}

bool verify_raw(const BenchKey& key, const Input& in, const std::vector<unsigned char>& sig) {
  std::vector<unsigned char> der;
  if (!key.rsa) {
    if (sig.empty() || sig.size() % 2 != 0) return false;
    size_t half = sig.size() / 2;
    ossl::Ptr<ECDSA_SIG> es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sig.data(), static_cast<int>(half), nullptr);
    BIGNUM* s = BN_bin2bn(sig.data() + half, static_cast<int>(half), nullptr);
    if (!es || r == nullptr || s == nullptr || ECDSA_SIG_set0(es.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    unsigned char* p = nullptr;
    int len = i2d_ECDSA_SIG(es.get(), &p);
    if (len <= 0) return false;
    der.assign(p, p + len);
    OPENSSL_free(p);
  }
  const std::vector<unsigned char>& s = key.rsa ? sig : der;
  ossl::Ptr<EVP_PKEY_CTX> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.public_key.get(), ossl::kDefaultProps));
  bool ok = ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
            EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) == 1 &&
            (!key.rsa || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1) &&
            EVP_PKEY_verify(ctx.get(), s.data(), s.size(), in.digest.data(), in.digest.size()) == 1;
  ERR_clear_error();
  return ok;
}

bool verify_provider(const BenchKey& key, const Input& in, const std::vector<unsigned char>& sig) {
  ossl::Ptr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  bool ok =
      md &&
      EVP_DigestVerifyInit_ex(md.get(), nullptr, "SHA256", nullptr, ossl::kDefaultProps,
                              key.public_key.get(), nullptr) == 1 &&
      EVP_DigestVerify(md.get(), sig.data(), sig.size(), in.message.data(), in.message.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace hwca::bench
