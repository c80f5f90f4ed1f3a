// Unit tests for the TPM side of a key's type (tokens/tpm2/key_template.hpp): the templates
// hwca creates keys from, which public areas it refuses to sign with, the public key of a
// public area (checked against real OpenSSL keys whose numbers are put into a TPMT_PUBLIC
// here, not by the code under test), attribute names, and the key's Name (computed here
// independently with tpm2-tss's marshalling and OpenSSL's SHA-2; tpm2_keystore_test.cpp
// compares it with tpm2-tools' too).
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <tss2/tss2_mu.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "tokens/tpm2/key_template.hpp"

namespace hwca::tokens::tpm2 {
namespace {

const KeyType kAll[] = {KeyType::ec_p256, KeyType::ec_p384, KeyType::rsa_2048, KeyType::rsa_3072,
                        KeyType::rsa_4096};

std::string hex(const unsigned char* p, size_t n) {
  std::string out;
  char buf[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", p[i]);
    out += buf;
  }
  return out;
}

// --- templates ---------------------------------------------------------------------------

TEST(KeyTemplate, EveryTypeIsASha256SigningKeyWithNullSchemes) {
  for (KeyType type : kAll) {
    SCOPED_TRACE(key_type_name(type));
    TPM2B_PUBLIC t = key_template(type);
    const TPMT_PUBLIC& p = t.publicArea;
    EXPECT_EQ(p.nameAlg, TPM2_ALG_SHA256);
    // fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | sign.
    EXPECT_EQ(p.objectAttributes, 0x00040072u);
    EXPECT_EQ(kSigningKeyAttributes, 0x00040072u);
    EXPECT_EQ(p.authPolicy.size, 0);
    if (is_rsa(type)) {
      EXPECT_EQ(p.type, TPM2_ALG_RSA);
      EXPECT_EQ(p.parameters.rsaDetail.symmetric.algorithm, TPM2_ALG_NULL);
      EXPECT_EQ(p.parameters.rsaDetail.scheme.scheme, TPM2_ALG_NULL);
      EXPECT_EQ(p.parameters.rsaDetail.keyBits, key_bits(type));
      EXPECT_EQ(p.parameters.rsaDetail.exponent, 0u);  // 65537
      EXPECT_EQ(p.unique.rsa.size, 0);
    } else {
      EXPECT_EQ(p.type, TPM2_ALG_ECC);
      EXPECT_EQ(p.parameters.eccDetail.symmetric.algorithm, TPM2_ALG_NULL);
      EXPECT_EQ(p.parameters.eccDetail.scheme.scheme, TPM2_ALG_NULL);
      EXPECT_EQ(p.parameters.eccDetail.kdf.scheme, TPM2_ALG_NULL);
      EXPECT_EQ(p.parameters.eccDetail.curveID,
                type == KeyType::ec_p256 ? TPM2_ECC_NIST_P256 : TPM2_ECC_NIST_P384);
      EXPECT_EQ(p.unique.ecc.x.size, 0);
      EXPECT_EQ(p.unique.ecc.y.size, 0);
    }
    // A template is a key hwca would sign with.
    EXPECT_TRUE(check_signing_key(p, "template"));
  }
}

TEST(KeyTemplate, KeyBitsPerRsaType) {
  EXPECT_EQ(key_template(KeyType::rsa_2048).publicArea.parameters.rsaDetail.keyBits, 2048);
  EXPECT_EQ(key_template(KeyType::rsa_3072).publicArea.parameters.rsaDetail.keyBits, 3072);
  EXPECT_EQ(key_template(KeyType::rsa_4096).publicArea.parameters.rsaDetail.keyBits, 4096);
}

TEST(KeyTemplate, TheTemplateMarshalsFieldForField) {
  // The whole template as bytes (TPM 2.0 Part 2, TPMT_PUBLIC): type, nameAlg, attributes,
  // empty policy, parameters, empty unique.
  TPM2B_PUBLIC t = key_template(KeyType::ec_p256);
  uint8_t buf[sizeof(TPMT_PUBLIC)];
  size_t len = 0;
  ASSERT_EQ(Tss2_MU_TPMT_PUBLIC_Marshal(&t.publicArea, buf, sizeof buf, &len), TSS2_RC_SUCCESS);
  EXPECT_EQ(hex(buf, len),
            "0023"      // TPM2_ALG_ECC
            "000b"      // SHA-256
            "00040072"  // attributes
            "0000"      // authPolicy
            "0010"      // symmetric NULL
            "0010"      // scheme NULL
            "0003"      // NIST P-256
            "0010"      // kdf NULL
            "0000"      // unique x
            "0000"      // unique y
  );
  t = key_template(KeyType::rsa_3072);
  len = 0;  // the offset to marshal at
  ASSERT_EQ(Tss2_MU_TPMT_PUBLIC_Marshal(&t.publicArea, buf, sizeof buf, &len), TSS2_RC_SUCCESS);
  EXPECT_EQ(hex(buf, len),
            "0001"      // TPM2_ALG_RSA
            "000b"      // SHA-256
            "00040072"  // attributes
            "0000"      // authPolicy
            "0010"      // symmetric NULL
            "0010"      // scheme NULL
            "0c00"      // 3072 bits
            "00000000"  // exponent: the default, 65537
            "0000"      // unique n
  );
}

TEST(KeyTemplate, ParmsCarryTypeAndParameters) {
  for (KeyType type : kAll) {
    TPM2B_PUBLIC t = key_template(type);
    TPMT_PUBLIC_PARMS parms = template_parms(t);
    EXPECT_EQ(parms.type, t.publicArea.type);
    if (is_rsa(type)) {
      EXPECT_EQ(parms.parameters.rsaDetail.keyBits, key_bits(type));
      EXPECT_EQ(parms.parameters.rsaDetail.exponent, 0u);
      EXPECT_EQ(parms.parameters.rsaDetail.scheme.scheme, TPM2_ALG_NULL);
    } else {
      EXPECT_EQ(parms.parameters.eccDetail.curveID, t.publicArea.parameters.eccDetail.curveID);
      EXPECT_EQ(parms.parameters.eccDetail.scheme.scheme, TPM2_ALG_NULL);
    }
  }
}

// --- check_signing_key -------------------------------------------------------------------

std::string refusal(const TPMT_PUBLIC& pub) {
  auto ok = check_signing_key(pub, "TPM key /tmp/k.pem");
  EXPECT_FALSE(ok) << "accepted";
  if (ok) return "";
  EXPECT_EQ(ok.error().kind, ErrorKind::usage);
  EXPECT_NE(ok.error().message.find("TPM key /tmp/k.pem"), std::string::npos) << ok.error().message;
  return ok.error().message;
}

TEST(CheckSigningKey, RestrictedKeyIsRefused) {
  for (KeyType type : {KeyType::ec_p256, KeyType::rsa_2048}) {
    TPMT_PUBLIC p = key_template(type).publicArea;
    p.objectAttributes |= TPMA_OBJECT_RESTRICTED;  // an attestation key
    EXPECT_NE(refusal(p).find("restricted"), std::string::npos);
  }
}

TEST(CheckSigningKey, DecryptOnlyKeyIsRefused) {
  TPMT_PUBLIC p = key_template(KeyType::rsa_2048).publicArea;
  p.objectAttributes = (p.objectAttributes & ~TPMA_OBJECT_SIGN_ENCRYPT) | TPMA_OBJECT_DECRYPT;
  EXPECT_NE(refusal(p).find("not a signing key"), std::string::npos);
  // A storage key (the SRK's attributes) too.
  TPMT_PUBLIC srk = key_template(KeyType::ec_p256).publicArea;
  srk.objectAttributes = 0x00030472;
  refusal(srk);
}

TEST(CheckSigningKey, KeyWithoutSignIsRefused) {
  TPMT_PUBLIC p = key_template(KeyType::ec_p384).publicArea;
  p.objectAttributes &= ~TPMA_OBJECT_SIGN_ENCRYPT;
  EXPECT_NE(refusal(p).find("sign attribute"), std::string::npos);
}

TEST(CheckSigningKey, KeyUsableOnlyThroughAPolicyIsRefused) {
  TPMT_PUBLIC p = key_template(KeyType::ec_p256).publicArea;
  p.objectAttributes &= ~TPMA_OBJECT_USERWITHAUTH;
  EXPECT_NE(refusal(p).find("userWithAuth"), std::string::npos);
}

TEST(CheckSigningKey, CurvesOtherThanP256AndP384AreRefused) {
  for (TPMI_ECC_CURVE curve : {TPM2_ECC_NIST_P521, TPM2_ECC_NIST_P192, TPM2_ECC_BN_P256,
                               TPM2_ECC_SM2_P256, TPM2_ECC_NIST_P224}) {
    TPMT_PUBLIC p = key_template(KeyType::ec_p256).publicArea;
    p.parameters.eccDetail.curveID = curve;
    EXPECT_NE(refusal(p).find("curve"), std::string::npos) << "curve " << curve;
  }
}

TEST(CheckSigningKey, KeyBoundToASchemeHwcaDoesNotUseIsRefused) {
  TPMT_PUBLIC rsa = key_template(KeyType::rsa_2048).publicArea;
  rsa.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSAES;
  EXPECT_NE(refusal(rsa).find("scheme"), std::string::npos);
  rsa.parameters.rsaDetail.scheme.scheme = TPM2_ALG_OAEP;
  refusal(rsa);
  TPMT_PUBLIC ecc = key_template(KeyType::ec_p256).publicArea;
  for (TPM2_ALG_ID scheme : {TPM2_ALG_ECDH, TPM2_ALG_ECDAA, TPM2_ALG_SM2, TPM2_ALG_ECSCHNORR}) {
    ecc.parameters.eccDetail.scheme.scheme = scheme;
    refusal(ecc);
  }
}

TEST(CheckSigningKey, KeyBoundToASchemeHwcaUsesIsAccepted) {
  TPMT_PUBLIC rsa = key_template(KeyType::rsa_2048).publicArea;
  for (TPM2_ALG_ID scheme : {TPM2_ALG_RSASSA, TPM2_ALG_RSAPSS}) {
    rsa.parameters.rsaDetail.scheme.scheme = scheme;
    rsa.parameters.rsaDetail.scheme.details.anySig.hashAlg = TPM2_ALG_SHA256;
    EXPECT_TRUE(check_signing_key(rsa, "k")) << scheme;
  }
  TPMT_PUBLIC ecc = key_template(KeyType::ec_p384).publicArea;
  ecc.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  ecc.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA384;
  EXPECT_TRUE(check_signing_key(ecc, "k"));
}

TEST(CheckSigningKey, OtherObjectTypesAreRefused) {
  TPMT_PUBLIC p = key_template(KeyType::ec_p256).publicArea;
  p.type = TPM2_ALG_KEYEDHASH;
  EXPECT_NE(refusal(p).find("neither an RSA nor an ECC"), std::string::npos);
  p.type = TPM2_ALG_SYMCIPHER;
  refusal(p);
}

TEST(CheckSigningKey, SignAndDecryptAsTpm2OpensslMakesIsAccepted) {
  // tpm2-openssl's keys: fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|decrypt|sign.
  for (KeyType type : {KeyType::ec_p256, KeyType::rsa_2048, KeyType::rsa_3072}) {
    TPMT_PUBLIC p = key_template(type).publicArea;
    p.objectAttributes |= TPMA_OBJECT_DECRYPT;
    EXPECT_EQ(p.objectAttributes, 0x00060072u);
    auto ok = check_signing_key(p, "k");
    EXPECT_TRUE(ok) << key_type_name(type) << ": " << (ok ? "" : ok.error().message);
  }
  // ... and a key with noDA still signs.
  TPMT_PUBLIC p = key_template(KeyType::ec_p256).publicArea;
  p.objectAttributes |= TPMA_OBJECT_NODA;
  EXPECT_TRUE(check_signing_key(p, "k"));
}

// --- public_key_of -----------------------------------------------------------------------

std::vector<unsigned char> bn_param(EVP_PKEY* key, const char* name, int pad_to) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &bn), 1) << name;
  std::vector<unsigned char> out(static_cast<size_t>(pad_to));
  EXPECT_EQ(BN_bn2binpad(bn, out.data(), pad_to), pad_to);
  BN_free(bn);
  return out;
}

// An RSA public area with the modulus of `key` (the TPM's layout: n big-endian, exponent 0
// for 65537).
TPMT_PUBLIC rsa_public_of(EVP_PKEY* key, KeyType type, UINT32 exponent) {
  TPMT_PUBLIC p = key_template(type).publicArea;
  int bytes = key_bits(type) / 8;
  auto n = bn_param(key, OSSL_PKEY_PARAM_RSA_N, bytes);
  p.parameters.rsaDetail.exponent = exponent;
  p.unique.rsa.size = static_cast<UINT16>(bytes);
  std::copy(n.begin(), n.end(), p.unique.rsa.buffer);
  return p;
}

// An ECC public area with the point of `key`: x and y each padded to the curve's size.
TPMT_PUBLIC ecc_public_of(EVP_PKEY* key, KeyType type) {
  TPMT_PUBLIC p = key_template(type).publicArea;
  size_t half = type == KeyType::ec_p256 ? 32 : 48;
  unsigned char point[1 + 2 * 48];
  size_t len = 0;
  EXPECT_EQ(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                            sizeof point, &len),
            1);
  EXPECT_EQ(len, 1 + 2 * half);
  EXPECT_EQ(point[0], 0x04);  // uncompressed
  p.unique.ecc.x.size = static_cast<UINT16>(half);
  p.unique.ecc.y.size = static_cast<UINT16>(half);
  std::copy(point + 1, point + 1 + half, p.unique.ecc.x.buffer);
  std::copy(point + 1 + half, point + 1 + 2 * half, p.unique.ecc.y.buffer);
  return p;
}

TEST(PublicKeyOf, RsaKeysAreTheOriginal) {
  for (KeyType type : {KeyType::rsa_2048, KeyType::rsa_3072}) {
    SCOPED_TRACE(key_type_name(type));
    ossl::Ptr<EVP_PKEY> original(
        EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(key_bits(type))));
    ASSERT_TRUE(original);
    // Exponent 0 in the TPM's words is 65537; the explicit value says the same.
    for (UINT32 e : {0u, 65537u}) {
      auto pub = public_key_of(rsa_public_of(original.get(), type, e));
      ASSERT_TRUE(pub) << pub.error().message;
      EXPECT_EQ(EVP_PKEY_eq(pub->get(), original.get()), 1) << "exponent " << e;
      EXPECT_EQ(EVP_PKEY_is_a(pub->get(), "RSA"), 1);
      EXPECT_EQ(EVP_PKEY_get_bits(pub->get()), key_bits(type));
    }
    // Another key's modulus is another key.
    ossl::Ptr<EVP_PKEY> other(
        EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(key_bits(type))));
    auto pub = public_key_of(rsa_public_of(other.get(), type, 0));
    ASSERT_TRUE(pub);
    EXPECT_NE(EVP_PKEY_eq(pub->get(), original.get()), 1);
    ERR_clear_error();
  }
}

TEST(PublicKeyOf, RsaKeyWithAnotherExponent) {
  ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  ASSERT_TRUE(ctx);
  ASSERT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048), 1);
  ossl::Ptr<BIGNUM> e(BN_new());
  BN_set_word(e.get(), 3);
  ASSERT_EQ(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()), 1);
  EVP_PKEY* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_keygen(ctx.get(), &raw), 1);
  ossl::Ptr<EVP_PKEY> original(raw);
  auto pub = public_key_of(rsa_public_of(original.get(), KeyType::rsa_2048, 3));
  ASSERT_TRUE(pub) << pub.error().message;
  EXPECT_EQ(EVP_PKEY_eq(pub->get(), original.get()), 1);
  // Read as 65537 it is not the same key.
  auto wrong = public_key_of(rsa_public_of(original.get(), KeyType::rsa_2048, 0));
  ASSERT_TRUE(wrong);
  EXPECT_NE(EVP_PKEY_eq(wrong->get(), original.get()), 1);
  ERR_clear_error();
}

TEST(PublicKeyOf, EcKeysAreTheOriginal) {
  for (KeyType type : {KeyType::ec_p256, KeyType::ec_p384}) {
    SCOPED_TRACE(key_type_name(type));
    const char* curve = type == KeyType::ec_p256 ? "P-256" : "P-384";
    ossl::Ptr<EVP_PKEY> original(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
    ASSERT_TRUE(original);
    auto pub = public_key_of(ecc_public_of(original.get(), type));
    ASSERT_TRUE(pub) << pub.error().message;
    EXPECT_EQ(EVP_PKEY_eq(pub->get(), original.get()), 1);
    EXPECT_EQ(EVP_PKEY_is_a(pub->get(), "EC"), 1);
    EXPECT_EQ(EVP_PKEY_get_bits(pub->get()), key_bits(type));
    char group[32] = {};
    size_t glen = 0;
    ASSERT_EQ(EVP_PKEY_get_utf8_string_param(pub->get(), OSSL_PKEY_PARAM_GROUP_NAME, group,
                                             sizeof group, &glen),
              1);
    EXPECT_EQ(std::string(group), type == KeyType::ec_p256 ? "prime256v1" : "secp384r1");
  }
}

TEST(PublicKeyOf, EcPointNotOnTheCurveIsRefused) {
  ossl::Ptr<EVP_PKEY> original(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_TRUE(original);
  TPMT_PUBLIC p = ecc_public_of(original.get(), KeyType::ec_p256);
  p.unique.ecc.y.buffer[31] ^= 0x01;
  auto pub = public_key_of(p);
  ASSERT_FALSE(pub) << "a point off the curve was taken";
  EXPECT_EQ(pub.error().kind, ErrorKind::usage) << pub.error().message;
  // P-256 coordinates read as a P-384 key do not make a key either.
  TPMT_PUBLIC q = ecc_public_of(original.get(), KeyType::ec_p256);
  q.parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
  EXPECT_FALSE(public_key_of(q));
  ERR_clear_error();
}

TEST(PublicKeyOf, OtherCurvesAndTypesAreRefused) {
  TPMT_PUBLIC p = key_template(KeyType::ec_p256).publicArea;
  p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P521;
  p.unique.ecc.x.size = 66;
  p.unique.ecc.y.size = 66;
  auto pub = public_key_of(p);
  ASSERT_FALSE(pub);
  EXPECT_EQ(pub.error().kind, ErrorKind::usage);
  p.type = TPM2_ALG_KEYEDHASH;
  auto other = public_key_of(p);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind, ErrorKind::usage);
}

// --- attribute_flags ---------------------------------------------------------------------

TEST(AttributeFlags, SigningKeyAttributesByName) {
  std::vector<std::pair<std::string, bool>> want = {
      {"fixedTPM", true},     {"stClear", false},
      {"fixedParent", true},  {"sensitiveDataOrigin", true},
      {"userWithAuth", true}, {"adminWithPolicy", false},
      {"noDA", false},        {"encryptedDuplication", false},
      {"restricted", false},  {"decrypt", false},
      {"sign", true}};
  EXPECT_EQ(attribute_flags(0x00040072), want);
}

TEST(AttributeFlags, EachBitHasItsName) {
  const std::pair<const char*, TPMA_OBJECT> bits[] = {
      {"fixedTPM", 0x2},       {"stClear", 0x4},
      {"fixedParent", 0x10},   {"sensitiveDataOrigin", 0x20},
      {"userWithAuth", 0x40},  {"adminWithPolicy", 0x80},
      {"noDA", 0x400},         {"encryptedDuplication", 0x800},
      {"restricted", 0x10000}, {"decrypt", 0x20000},
      {"sign", 0x40000}};
  for (const auto& [name, bit] : bits) {
    auto flags = attribute_flags(bit);
    ASSERT_EQ(flags.size(), 11u);
    for (const auto& [n, on] : flags) EXPECT_EQ(on, n == name) << "bit 0x" << std::hex << bit;
  }
  for (const auto& [n, on] : attribute_flags(0)) EXPECT_FALSE(on) << n;
  // The SRK's attributes.
  auto srk = attribute_flags(0x00030472);
  std::vector<std::string> set;
  for (const auto& [n, on] : srk) {
    if (on) set.push_back(n);
  }
  EXPECT_EQ(set, (std::vector<std::string>{"fixedTPM", "fixedParent", "sensitiveDataOrigin",
                                           "userWithAuth", "noDA", "restricted", "decrypt"}));
}

// --- key_name_hex ------------------------------------------------------------------------

// nameAlg || H(marshalled TPMT_PUBLIC), computed here.
std::string expected_name(const TPMT_PUBLIC& p) {
  uint8_t buf[sizeof(TPMT_PUBLIC)];
  size_t len = 0;
  EXPECT_EQ(Tss2_MU_TPMT_PUBLIC_Marshal(&p, buf, sizeof buf, &len), TSS2_RC_SUCCESS);
  unsigned char digest[SHA384_DIGEST_LENGTH];
  if (p.nameAlg == TPM2_ALG_SHA384) {
    SHA384(buf, len, digest);
    return "000c" + hex(digest, SHA384_DIGEST_LENGTH);
  }
  SHA256(buf, len, digest);
  return "000b" + hex(digest, SHA256_DIGEST_LENGTH);
}

TEST(KeyNameHex, IsSha256OfTheMarshalledPublicArea) {
  ossl::Ptr<EVP_PKEY> ec(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ossl::Ptr<EVP_PKEY> rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  ASSERT_TRUE(ec && rsa);
  for (const TPMT_PUBLIC& p :
       {ecc_public_of(ec.get(), KeyType::ec_p256), rsa_public_of(rsa.get(), KeyType::rsa_2048, 0),
        key_template(KeyType::ec_p384).publicArea}) {
    TPM2B_PUBLIC pub{};
    pub.publicArea = p;
    auto name = key_name_hex(pub);
    ASSERT_TRUE(name) << name.error().message;
    EXPECT_EQ(*name, expected_name(p));
    EXPECT_EQ(name->size(), 68u);
    EXPECT_EQ(name->substr(0, 4), "000b");
  }
}

TEST(KeyNameHex, FixedTemplateHasAKnownName) {
  // The bare ECC P-256 template: SHA-256 of its 22 marshalled bytes (see
  // TheTemplateMarshalsFieldForField), hashed here with OpenSSL.
  const unsigned char bytes[] = {0x00, 0x23, 0x00, 0x0b, 0x00, 0x04, 0x00, 0x72, 0x00, 0x00, 0x00,
                                 0x10, 0x00, 0x10, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00};
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(bytes, sizeof bytes, digest);
  auto name = key_name_hex(key_template(KeyType::ec_p256));
  ASSERT_TRUE(name);
  EXPECT_EQ(*name, "000b" + hex(digest, sizeof digest));
}

TEST(KeyNameHex, ChangesWithEveryField) {
  TPM2B_PUBLIC a = key_template(KeyType::ec_p256);
  TPM2B_PUBLIC b = a;
  b.publicArea.objectAttributes |= TPMA_OBJECT_NODA;
  TPM2B_PUBLIC c = a;
  c.publicArea.unique.ecc.x.size = 1;
  EXPECT_NE(*key_name_hex(a), *key_name_hex(b));
  EXPECT_NE(*key_name_hex(a), *key_name_hex(c));
}

TEST(KeyNameHex, Sha384NameAlgorithm) {
  TPM2B_PUBLIC pub = key_template(KeyType::ec_p384);
  pub.publicArea.nameAlg = TPM2_ALG_SHA384;
  auto name = key_name_hex(pub);
  ASSERT_TRUE(name) << name.error().message;
  EXPECT_EQ(*name, expected_name(pub.publicArea));
  EXPECT_EQ(name->size(), 4u + 96u);
}

TEST(KeyNameHex, UnknownNameAlgorithmIsRefused) {
  TPM2B_PUBLIC pub = key_template(KeyType::ec_p256);
  pub.publicArea.nameAlg = TPM2_ALG_SM3_256;
  EXPECT_FALSE(key_name_hex(pub));
}

}  // namespace
}  // namespace hwca::tokens::tpm2
