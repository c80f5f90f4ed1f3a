// Unit tests for attest/make_credential.hpp. The credential is activated here in software
// the way a TPM does it (TPM 2.0 Part 1, 24), with OpenSSL's own KBKDF (KDFa) and SSKDF
// (KDFe), not the code under test; the real TPM's activation is in
// tests/integration/attest_swtpm_test.cpp.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <optional>
#include <string>

#include "attest/make_credential.hpp"
#include "attest_keys.hpp"
#include "attest_soft_activation.hpp"

namespace hwca::attest {
namespace {

using test::activate;
using test::area_of;
using test::cat;
using test::const_identity;
using test::kbkdf;
using test::recover_seed;
using test::sskdf;
using test::tpm2b;
using test::kEkAttrs;

Bytes some_name(uint8_t fill) {
  Bytes n{0x00, 0x0b};
  n.resize(34, fill);
  return n;
}

struct Case {
  const char* what;
  bool rsa;
  const char* group_or_null;
  const char* md;
  size_t hlen;
  size_t aes_bytes;
};

const Case kCases[] = {{"rsa-2048", true, nullptr, "SHA256", 32, 16},
                       {"ecc-p256", false, "P-256", "SHA256", 32, 16},
                       {"ecc-p384", false, "P-384", "SHA384", 48, 32}};

ossl::Ptr<EVP_PKEY> key_for(const Case& c) {
  return c.rsa ? test::rsa_key(2048) : test::ec_key(c.group_or_null);
}

TEST(AttestMakeCredential, KdfaIsSp800108CounterModeAndKdfeIsSp80056a) {
  Bytes key(32, 0x11), u = some_name(0x22), v{1, 2, 3};
  auto mine = kdfa(TPM2_ALG_SHA256, key, "STORAGE", u, v, 8 * 80);
  ASSERT_TRUE(mine);
  EXPECT_EQ(*mine, kbkdf("SHA256", key, "STORAGE", cat(u, v), 80));
  auto e = kdfe(TPM2_ALG_SHA384, key, "IDENTITY", u, v, 8 * 100);
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, sskdf("SHA384", key, cat(cat(const_identity(), u), v), 100));
}

TEST(AttestMakeCredential, EachEkKindActivatesInSoftwareForTheRightNameOnly) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.what);
    auto priv = key_for(c);
    auto pub = parse_public(test::marshal_public(area_of(priv.get(), kEkAttrs)));
    ASSERT_TRUE(pub) << pub.error().message;
    if (!c.rsa && c.hlen == 48) {  // the P-384 template: SHA-384 and AES-256
      pub->area.nameAlg = TPM2_ALG_SHA384;
      pub->area.parameters.eccDetail.symmetric.keyBits.aes = 256;
    }
    auto ek = ek_from_public(*pub);
    ASSERT_TRUE(ek) << ek.error().message;
    EXPECT_EQ(hash_size(ek->name_alg), c.hlen);
    EXPECT_EQ(ek->aes_bits, c.aes_bytes * 8);
    Bytes secret(32, 0x5a);
    secret[0] = 1;
    Bytes name = some_name(0x42);
    auto cred = make_credential(*ek, name, secret);
    ASSERT_TRUE(cred) << cred.error().message;
    auto got = activate(priv.get(), c.md, c.hlen, c.aes_bytes, name, *cred);
    ASSERT_TRUE(got) << "activation failed";
    EXPECT_EQ(*got, secret);
    // For another object (another AK's name) the TPM refuses: the HMAC covers the name.
    EXPECT_FALSE(activate(priv.get(), c.md, c.hlen, c.aes_bytes, some_name(0x43), *cred));
    // Another EK's private key recovers nothing.
    auto other = key_for(c);
    EXPECT_FALSE(activate(other.get(), c.md, c.hlen, c.aes_bytes, name, *cred));
    // A fresh seed (or ephemeral key) every time.
    auto again = make_credential(*ek, name, secret);
    ASSERT_TRUE(again);
    EXPECT_NE(again->id_object, cred->id_object);
  }
}

TEST(AttestMakeCredential, AGivenSeedOrEphemeralKeyGivesTheSameBlob) {
  auto rsa = test::rsa_key();
  auto ek = ek_from_key(rsa.get());
  ASSERT_TRUE(ek);
  Bytes name = some_name(7), secret(16, 3);
  MakeCredentialOptions o;
  o.seed = Bytes(32, 9);
  auto a = make_credential(*ek, name, secret, o);
  auto b = make_credential(*ek, name, secret, o);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->id_object, b->id_object);
  EXPECT_NE(a->encrypted_secret, b->encrypted_secret) << "RSA-OAEP is randomised";

  auto ec = test::ec_key();
  auto eph = test::ec_key();
  auto eek = ek_from_key(ec.get());
  ASSERT_TRUE(eek);
  MakeCredentialOptions e;
  e.ephemeral = eph.get();
  a = make_credential(*eek, name, secret, e);
  b = make_credential(*eek, name, secret, e);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->id_object, b->id_object);
  EXPECT_EQ(a->encrypted_secret, b->encrypted_secret);
}

TEST(AttestMakeCredential, RefusesBadSizes) {
  auto rsa = test::rsa_key();
  auto ek = ek_from_key(rsa.get());
  ASSERT_TRUE(ek);
  Bytes name = some_name(1);
  EXPECT_FALSE(make_credential(*ek, name, Bytes{}));
  EXPECT_FALSE(make_credential(*ek, name, Bytes(33, 1))) << "longer than SHA-256";
  EXPECT_FALSE(make_credential(*ek, Bytes{0x00, 0x0b, 1}, Bytes(32, 1))) << "not a name";
  MakeCredentialOptions o;
  o.seed = Bytes(16, 1);
  auto r = make_credential(*ek, name, Bytes(32, 1), o);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::usage);
}

TEST(AttestMakeCredential, EkParametersFromKeysAndPublicAreas) {
  auto p256 = test::ec_key("P-256");
  auto p384 = test::ec_key("P-384");
  auto rsa = test::rsa_key(2048);
  auto small = test::rsa_key(1024);
  auto a = ek_from_key(p256.get());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->name_alg, TPM2_ALG_SHA256);
  EXPECT_EQ(a->aes_bits, 128);
  auto b = ek_from_key(p384.get());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->name_alg, TPM2_ALG_SHA384);
  EXPECT_EQ(b->aes_bits, 256);
  auto c = ek_from_key(rsa.get());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name_alg, TPM2_ALG_SHA256);
  EXPECT_EQ(ek_from_key(small.get()).error().reason, Reason::unsupported_key);

  // An EK certificate: its public key, the template assumed from it.
  ossl::Ptr<X509> cert(X509_new());
  ASSERT_EQ(X509_set_pubkey(cert.get(), rsa.get()), 1);
  auto d = ek_from_certificate(cert.get());
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(EVP_PKEY_eq(d->key.get(), rsa.get()), 1);

  // A public area that is not an EK: no restricted decryption, or no AES-CFB.
  auto pub = parse_public(test::marshal_public(area_of(rsa.get(), test::kKeyAttrs)));
  ASSERT_TRUE(pub);
  EXPECT_EQ(ek_from_public(*pub).error().reason, Reason::unsupported_key);
  TPMT_PUBLIC area = area_of(rsa.get(), kEkAttrs);
  area.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CBC;
  pub = parse_public(test::marshal_public(area));
  ASSERT_TRUE(pub);
  EXPECT_EQ(ek_from_public(*pub).error().reason, Reason::unsupported_key);
}

}  // namespace
}  // namespace hwca::attest
