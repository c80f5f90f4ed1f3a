// Software stand-ins for TPM objects in the attestation unit tests: a TPMT_PUBLIC built from
// an OpenSSL key (numbers copied here, not by the code under test), TPMS_ATTEST of type
// CERTIFY marshalled with tss2-mu, and TPMT_SIGNATUREs made with the OpenSSL private key.
#pragma once

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/ossl.hpp"

namespace hwca::attest::test {

using Bytes = std::vector<uint8_t>;

// Seen on swtpm with tpm2-tools: a signing key, an AK, an EK.
inline constexpr uint32_t kKeyAttrs = 0x00040072;
inline constexpr uint32_t kAkAttrs = 0x00050072;
inline constexpr uint32_t kEkAttrs = 0x000300b2;

inline ossl::Ptr<EVP_PKEY> ec_key(const char* group = "P-256") {
  return ossl::Ptr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group));
}
inline ossl::Ptr<EVP_PKEY> rsa_key(size_t bits = 2048) {
  return ossl::Ptr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits));
}

inline void copy_bn(EVP_PKEY* key, const char* param, uint8_t* out, UINT16* size, size_t pad) {
  BIGNUM* bn = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(key, param, &bn), 1);
  *size = static_cast<UINT16>(pad);
  ASSERT_EQ(BN_bn2binpad(bn, out, static_cast<int>(pad)), static_cast<int>(pad));
  BN_free(bn);
}

// A TPMT_PUBLIC for key: SHA-256 nameAlg, null schemes (AES-128-CFB for a decrypting key).
inline TPMT_PUBLIC area_of(EVP_PKEY* key, uint32_t attrs) {
  TPMT_PUBLIC a{};
  a.nameAlg = TPM2_ALG_SHA256;
  a.objectAttributes = attrs;
  bool storage = (attrs & TPMA_OBJECT_DECRYPT) != 0 && (attrs & TPMA_OBJECT_RESTRICTED) != 0;
  TPMT_SYM_DEF_OBJECT sym{};
  sym.algorithm = TPM2_ALG_NULL;
  if (storage) {
    sym.algorithm = TPM2_ALG_AES;
    sym.keyBits.aes = 128;
    sym.mode.aes = TPM2_ALG_CFB;
  }
  size_t bytes = (EVP_PKEY_get_bits(key) + 7) / 8;
  if (EVP_PKEY_is_a(key, "RSA")) {
    a.type = TPM2_ALG_RSA;
    a.parameters.rsaDetail.symmetric = sym;
    a.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    a.parameters.rsaDetail.keyBits = static_cast<UINT16>(EVP_PKEY_get_bits(key));
    a.parameters.rsaDetail.exponent = 0;
    copy_bn(key, OSSL_PKEY_PARAM_RSA_N, a.unique.rsa.buffer, &a.unique.rsa.size, bytes);
  } else {
    a.type = TPM2_ALG_ECC;
    a.parameters.eccDetail.symmetric = sym;
    a.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    a.parameters.eccDetail.curveID = bytes == 32 ? TPM2_ECC_NIST_P256 : TPM2_ECC_NIST_P384;
    a.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    copy_bn(key, OSSL_PKEY_PARAM_EC_PUB_X, a.unique.ecc.x.buffer, &a.unique.ecc.x.size, bytes);
    copy_bn(key, OSSL_PKEY_PARAM_EC_PUB_Y, a.unique.ecc.y.buffer, &a.unique.ecc.y.size, bytes);
  }
  return a;
}

inline Bytes marshal_public(const TPMT_PUBLIC& a) {
  TPM2B_PUBLIC pub{};
  pub.publicArea = a;
  Bytes out(sizeof pub + 8);
  size_t len = 0;
  EXPECT_EQ(Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, out.data(), out.size(), &len), TSS2_RC_SUCCESS);
  out.resize(len);
  return out;
}

// nameAlg || SHA-256(marshalled TPMT_PUBLIC), computed here for SHA-256 areas.
inline Bytes name_sha256(const TPMT_PUBLIC& a) {
  uint8_t buf[sizeof(TPMT_PUBLIC)];
  size_t len = 0;
  EXPECT_EQ(Tss2_MU_TPMT_PUBLIC_Marshal(&a, buf, sizeof buf, &len), TSS2_RC_SUCCESS);
  Bytes name{0x00, 0x0b};
  name.resize(2 + 32);
  unsigned int out = 0;
  EXPECT_EQ(EVP_Digest(buf, len, name.data() + 2, &out, EVP_sha256(), nullptr), 1);
  return name;
}

// A TPMS_ATTEST of type CERTIFY naming `name`, with `extra` as extraData.
inline TPMS_ATTEST certify_info(const Bytes& name, const Bytes& extra) {
  TPMS_ATTEST at{};
  at.magic = TPM2_GENERATED_VALUE;
  at.type = TPM2_ST_ATTEST_CERTIFY;
  at.qualifiedSigner.size = 4;
  std::memcpy(at.qualifiedSigner.name, "\x00\x0b\x01\x02", 4);
  at.extraData.size = static_cast<UINT16>(extra.size());
  std::memcpy(at.extraData.buffer, extra.data(), extra.size());
  at.clockInfo.clock = 123456;
  at.clockInfo.safe = 1;
  at.firmwareVersion = 0x2000000000000ULL;
  at.attested.certify.name.size = static_cast<UINT16>(name.size());
  std::memcpy(at.attested.certify.name.name, name.data(), name.size());
  at.attested.certify.qualifiedName = at.attested.certify.name;
  return at;
}

inline Bytes marshal_attest(const TPMS_ATTEST& at) {
  Bytes out(sizeof at + 8);
  size_t len = 0;
  EXPECT_EQ(Tss2_MU_TPMS_ATTEST_Marshal(&at, out.data(), out.size(), &len), TSS2_RC_SUCCESS);
  out.resize(len);
  return out;
}

// TPMT_SIGNATURE by key over data: ECDSA or RSASSA with the given hash.
inline Bytes sign(EVP_PKEY* key, const Bytes& data, TPMI_ALG_HASH hash = TPM2_ALG_SHA256) {
  const char* md = hash == TPM2_ALG_SHA384 ? "SHA384" : hash == TPM2_ALG_SHA1 ? "SHA1" : "SHA256";
  ossl::Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  EXPECT_EQ(EVP_DigestSignInit_ex(ctx.get(), nullptr, md, nullptr, nullptr, key, nullptr), 1);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()), 1);
  Bytes der(len);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), der.data(), &len, data.data(), data.size()), 1);
  der.resize(len);
  TPMT_SIGNATURE sig{};
  if (EVP_PKEY_is_a(key, "RSA")) {
    sig.sigAlg = TPM2_ALG_RSASSA;
    sig.signature.rsassa.hash = hash;
    sig.signature.rsassa.sig.size = static_cast<UINT16>(der.size());
    std::memcpy(sig.signature.rsassa.sig.buffer, der.data(), der.size());
  } else {
    sig.sigAlg = TPM2_ALG_ECDSA;
    sig.signature.ecdsa.hash = hash;
    const uint8_t* p = der.data();
    ossl::Ptr<ECDSA_SIG> es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    size_t field = (EVP_PKEY_get_bits(key) + 7) / 8;
    sig.signature.ecdsa.signatureR.size = static_cast<UINT16>(field);
    sig.signature.ecdsa.signatureS.size = static_cast<UINT16>(field);
    BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), sig.signature.ecdsa.signatureR.buffer,
                 static_cast<int>(field));
    BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), sig.signature.ecdsa.signatureS.buffer,
                 static_cast<int>(field));
  }
  Bytes out(sizeof sig + 8);
  size_t olen = 0;
  EXPECT_EQ(Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, out.data(), out.size(), &olen), TSS2_RC_SUCCESS);
  out.resize(olen);
  return out;
}

}  // namespace hwca::attest::test
