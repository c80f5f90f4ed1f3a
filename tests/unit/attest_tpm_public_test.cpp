// Unit tests for attest/tpm_public.hpp: decoding a TPM2B_PUBLIC, its Name, its public key,
// and the attestation-key and certifiable-key checks (each attribute flipped on its own).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "attest/tpm_public.hpp"
#include "attest_keys.hpp"

namespace hwca::attest {
namespace {

using test::area_of;
using test::kAkAttrs;
using test::kKeyAttrs;

TEST(AttestTpmPublic, DecodesAndNamesAnEccAndAnRsaKey) {
  ossl::Ptr<EVP_PKEY> keys[] = {test::ec_key("P-256"), test::ec_key("P-384"), test::rsa_key(2048)};
  for (const auto& key : keys) {
    TPMT_PUBLIC area = area_of(key.get(), kKeyAttrs);
    auto pub = parse_public(test::marshal_public(area));
    ASSERT_TRUE(pub) << pub.error().message;
    EXPECT_EQ(pub->name, test::name_sha256(area));
    auto pk = public_key(pub->area);
    ASSERT_TRUE(pk) << pk.error().message;
    EXPECT_EQ(EVP_PKEY_eq(pk->get(), key.get()), 1) << "not the same public key";
  }
}

TEST(AttestTpmPublic, RefusesATrailingByteAndATruncatedArea) {
  auto key = test::ec_key();
  Bytes bytes = test::marshal_public(area_of(key.get(), kKeyAttrs));
  Bytes longer = bytes;
  longer.push_back(0);
  auto r = parse_public(longer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::trailing_bytes) << r.error().message;
  Bytes shorter(bytes.begin(), bytes.end() - 1);
  r = parse_public(shorter);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::malformed);
  r = parse_public({});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::malformed);
}

TEST(AttestTpmPublic, RefusesASha1NameAlg) {
  auto key = test::ec_key();
  TPMT_PUBLIC area = area_of(key.get(), kKeyAttrs);
  area.nameAlg = TPM2_ALG_SHA1;
  auto r = parse_public(test::marshal_public(area));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::unsupported_key);
}

TEST(AttestTpmPublic, TheNameCoversEveryByteOfTheArea) {
  auto key = test::ec_key();
  TPMT_PUBLIC area = area_of(key.get(), kKeyAttrs);
  auto a = name_of(area);
  area.objectAttributes |= TPMA_OBJECT_NODA;
  auto b = name_of(area);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  area.nameAlg = TPM2_ALG_SHA384;
  auto c = name_of(area);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->size(), 2u + 48u);
  EXPECT_EQ((*c)[1], 0x0c);
}

TEST(AttestTpmPublic, RsaExponentZeroIs65537) {
  auto key = test::rsa_key(2048);
  TPMT_PUBLIC area = area_of(key.get(), kKeyAttrs);
  ASSERT_EQ(area.parameters.rsaDetail.exponent, 0u);
  auto pk = public_key(area);
  ASSERT_TRUE(pk) << pk.error().message;
  EXPECT_EQ(EVP_PKEY_eq(pk->get(), key.get()), 1);
  area.parameters.rsaDetail.exponent = 3;
  pk = public_key(area);
  ASSERT_TRUE(pk);
  EXPECT_NE(EVP_PKEY_eq(pk->get(), key.get()), 1) << "exponent ignored";
}

TEST(AttestTpmPublic, RefusesSmallRsaOtherCurvesAndOtherTypes) {
  auto small = test::rsa_key(1024);
  auto r = public_key(area_of(small.get(), kKeyAttrs));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::unsupported_key) << r.error().message;

  auto ec = test::ec_key();
  TPMT_PUBLIC area = area_of(ec.get(), kKeyAttrs);
  area.parameters.eccDetail.curveID = TPM2_ECC_NIST_P521;
  r = public_key(area);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::unsupported_key);
  EXPECT_EQ(is_certifiable_key(area).error().reason, Reason::unsupported_key);

  area = area_of(ec.get(), kKeyAttrs);
  area.type = TPM2_ALG_KEYEDHASH;
  r = public_key(area);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::unsupported_key);
}

TEST(AttestTpmPublic, RefusesAPointOffTheCurve) {
  auto ec = test::ec_key();
  TPMT_PUBLIC area = area_of(ec.get(), kKeyAttrs);
  area.unique.ecc.y.buffer[31] ^= 1;
  auto r = public_key(area);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::malformed);
}

TEST(AttestTpmPublic, AcceptsTheAttributesTpm2ToolsGives) {
  auto ec = test::ec_key();
  auto rsa = test::rsa_key();
  for (EVP_PKEY* k : {ec.get(), rsa.get()}) {
    auto ak = is_attestation_key(area_of(k, kAkAttrs));
    EXPECT_TRUE(ak) << ak.error().message;
    auto key = is_certifiable_key(area_of(k, kKeyAttrs));
    EXPECT_TRUE(key) << key.error().message;
  }
  // Each role refuses the other's attributes: an AK is restricted, a key is not.
  EXPECT_EQ(is_attestation_key(area_of(ec.get(), kKeyAttrs)).error().reason,
            Reason::not_restricted);
  EXPECT_EQ(is_certifiable_key(area_of(ec.get(), kAkAttrs)).error().reason, Reason::restricted);
  EXPECT_EQ(is_certifiable_key(area_of(ec.get(), test::kEkAttrs)).error().reason, Reason::not_sign);
}

struct Flip {
  uint32_t bit;
  Reason reason;
};

// Every required bit cleared, and decrypt set, one at a time.
const Flip kFlips[] = {{kSign, Reason::not_sign},
                       {kFixedTpm, Reason::not_fixed_tpm},
                       {kFixedParent, Reason::not_fixed_parent},
                       {kSensitiveDataOrigin, Reason::not_sensitive_data_origin},
                       {kDecrypt, Reason::decrypt}};

TEST(AttestTpmPublic, TheAttestationKeyCheckRefusesEachFlippedBit) {
  auto ec = test::ec_key();
  for (const Flip& f : kFlips) {
    SCOPED_TRACE(reason_name(f.reason));
    auto r = is_attestation_key(area_of(ec.get(), kAkAttrs ^ f.bit));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, f.reason) << r.error().message;
    EXPECT_NE(r.error().message.find("attestation key"), std::string::npos);
  }
  auto r = is_attestation_key(area_of(ec.get(), kAkAttrs ^ kRestricted));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::not_restricted);
}

TEST(AttestTpmPublic, TheCertifiableKeyCheckRefusesEachFlippedBit) {
  auto rsa = test::rsa_key();
  for (const Flip& f : kFlips) {
    SCOPED_TRACE(reason_name(f.reason));
    auto r = is_certifiable_key(area_of(rsa.get(), kKeyAttrs ^ f.bit));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, f.reason) << r.error().message;
    EXPECT_NE(r.error().message.find("certified key"), std::string::npos);
  }
  auto r = is_certifiable_key(area_of(rsa.get(), kKeyAttrs ^ kRestricted));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::restricted);
}

TEST(AttestTpmPublic, EveryReasonHasADistinctName) {
  std::set<std::string> names;
  for (int i = 0; i <= static_cast<int>(Reason::name_mismatch); ++i) {
    names.insert(reason_name(static_cast<Reason>(i)));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(Reason::name_mismatch) + 1);
  EXPECT_EQ(names.count("unknown"), 0u);
}

}  // namespace
}  // namespace hwca::attest
