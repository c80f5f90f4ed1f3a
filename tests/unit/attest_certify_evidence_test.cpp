// Unit tests for attest/certify_evidence.hpp: TPM2_Certify evidence made here in software
// (a TPMS_ATTEST marshalled with tss2-mu, signed by an OpenSSL key standing in for the AK),
// accepted when right and refused with its own reason for each fault. The same checks on
// tpm2-tools' own certify output are in tests/integration/attest_swtpm_test.cpp.
#include <gtest/gtest.h>

#include <string>

#include "attest/certify_evidence.hpp"
#include "attest_keys.hpp"

namespace hwca::attest {
namespace {

using test::area_of;

struct Evidence {
  ossl::Ptr<EVP_PKEY> ak_key, key_key;
  TpmPublic ak, key;
  Bytes extra{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4};
  Bytes attest, sig;
};

TpmPublic parsed(EVP_PKEY* k, uint32_t attrs) {
  auto p = parse_public(test::marshal_public(area_of(k, attrs)));
  EXPECT_TRUE(p);
  return *p;
}

Evidence make(bool rsa_ak) {
  Evidence e;
  e.ak_key = rsa_ak ? test::rsa_key() : test::ec_key();
  e.key_key = test::ec_key();
  e.ak = parsed(e.ak_key.get(), test::kAkAttrs);
  e.key = parsed(e.key_key.get(), test::kKeyAttrs);
  e.attest = test::marshal_attest(test::certify_info(e.key.name, e.extra));
  e.sig = test::sign(e.ak_key.get(), e.attest);
  return e;
}

Reason reason_of(const Check& c) { return c ? Reason::malformed : c.error().reason; }

TEST(AttestCertify, AcceptsEcdsaAndRsassaEvidence) {
  for (bool rsa : {false, true}) {
    Evidence e = make(rsa);
    auto ok = verify_certify(e.attest, e.sig, e.ak, e.key, e.extra);
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().message);
    auto parsed_attest = parse_certify_attest(e.attest);
    ASSERT_TRUE(parsed_attest);
    EXPECT_EQ(parsed_attest->clockInfo.clock, 123456u);
  }
}

TEST(AttestCertify, AcceptsASha384Signature) {
  Evidence e = make(false);
  e.sig = test::sign(e.ak_key.get(), e.attest, TPM2_ALG_SHA384);
  EXPECT_TRUE(verify_certify(e.attest, e.sig, e.ak, e.key, e.extra));
}

TEST(AttestCertify, RefusesATrailingByteOnTheAttestOrTheSignature) {
  Evidence e = make(false);
  Bytes longer = e.attest;
  longer.push_back(0);
  Bytes sig = test::sign(e.ak_key.get(), longer);  // even when signed with the byte
  auto r = verify_certify(longer, sig, e.ak, e.key, e.extra);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::trailing_bytes) << r.error().message;
  Bytes sig2 = e.sig;
  sig2.push_back(0);
  EXPECT_EQ(reason_of(verify_certify(e.attest, sig2, e.ak, e.key, e.extra)),
            Reason::trailing_bytes);
  EXPECT_EQ(reason_of(verify_certify(Bytes(e.attest.begin(), e.attest.end() - 1), e.sig, e.ak,
                                     e.key, e.extra)),
            Reason::malformed);
}

TEST(AttestCertify, RefusesAWrongMagicEvenWhenSigned) {
  Evidence e = make(false);
  TPMS_ATTEST at = test::certify_info(e.key.name, e.extra);
  at.magic = 0xFF544348;
  Bytes attest = test::marshal_attest(at);
  Bytes sig = test::sign(e.ak_key.get(), attest);
  auto r = verify_certify(attest, sig, e.ak, e.key, e.extra);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::bad_magic) << r.error().message;
}

TEST(AttestCertify, RefusesAQuoteOrOtherType) {
  Evidence e = make(false);
  TPMS_ATTEST at = test::certify_info(e.key.name, e.extra);
  at.type = TPM2_ST_ATTEST_QUOTE;
  at.attested.quote = {};
  Bytes attest = test::marshal_attest(at);
  Bytes sig = test::sign(e.ak_key.get(), attest);
  auto r = verify_certify(attest, sig, e.ak, e.key, e.extra);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::bad_type) << r.error().message;
}

TEST(AttestCertify, RefusesWrongExtraData) {
  Evidence e = make(false);
  Bytes other = e.extra;
  other.back() ^= 1;
  auto r = verify_certify(e.attest, e.sig, e.ak, e.key, other);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::extra_data_mismatch) << r.error().message;
  EXPECT_EQ(reason_of(verify_certify(e.attest, e.sig, e.ak, e.key, Bytes{})),
            Reason::extra_data_mismatch);
  Bytes prefix(e.extra.begin(), e.extra.end() - 1);
  EXPECT_EQ(reason_of(verify_certify(e.attest, e.sig, e.ak, e.key, prefix)),
            Reason::extra_data_mismatch);
}

TEST(AttestCertify, RefusesABadSignature) {
  for (bool rsa : {false, true}) {
    SCOPED_TRACE(rsa ? "rsa" : "ecdsa");
    Evidence e = make(rsa);
    Bytes tampered = e.attest;
    tampered[tampered.size() - 40] ^= 1;  // inside the certified name
    auto r = verify_certify(tampered, e.sig, e.ak, e.key, e.extra);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().reason, Reason::bad_signature) << r.error().message;
    Bytes sig = e.sig;
    sig.back() ^= 1;
    EXPECT_EQ(reason_of(verify_certify(e.attest, sig, e.ak, e.key, e.extra)),
              Reason::bad_signature);
    // Signed by another key of the same kind: not this AK's.
    auto other = rsa ? test::rsa_key() : test::ec_key();
    EXPECT_EQ(reason_of(verify_certify(e.attest, test::sign(other.get(), e.attest), e.ak, e.key,
                                       e.extra)),
              Reason::bad_signature);
  }
}

TEST(AttestCertify, RefusesASchemeNotTheAksOrAWeakHash) {
  Evidence e = make(false);
  auto rsa = test::rsa_key();
  // An RSASSA signature for an ECC AK.
  EXPECT_EQ(
      reason_of(verify_certify(e.attest, test::sign(rsa.get(), e.attest), e.ak, e.key, e.extra)),
      Reason::unsupported_signature);
  // SHA-1.
  EXPECT_EQ(reason_of(verify_certify(e.attest, test::sign(e.ak_key.get(), e.attest, TPM2_ALG_SHA1),
                                     e.ak, e.key, e.extra)),
            Reason::unsupported_signature);
  // An HMAC "signature".
  TPMT_SIGNATURE hm{};
  hm.sigAlg = TPM2_ALG_HMAC;
  hm.signature.hmac.hashAlg = TPM2_ALG_SHA256;
  Bytes sig(sizeof hm);
  size_t len = 0;
  ASSERT_EQ(Tss2_MU_TPMT_SIGNATURE_Marshal(&hm, sig.data(), sig.size(), &len), TSS2_RC_SUCCESS);
  sig.resize(len);
  EXPECT_EQ(reason_of(verify_certify(e.attest, sig, e.ak, e.key, e.extra)),
            Reason::unsupported_signature);
}

TEST(AttestCertify, RefusesEvidenceForAnotherKey) {
  Evidence e = make(false);
  auto other_key = test::ec_key();
  TpmPublic other = parsed(other_key.get(), test::kKeyAttrs);
  auto r = verify_certify(e.attest, e.sig, e.ak, other, e.extra);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, Reason::name_mismatch) << r.error().message;
  // The same key with other attributes (a software key made to look fixedTPM) has another name.
  TpmPublic looser = parsed(e.key_key.get(), test::kKeyAttrs | TPMA_OBJECT_NODA);
  EXPECT_EQ(reason_of(verify_certify(e.attest, e.sig, e.ak, looser, e.extra)),
            Reason::name_mismatch);
}

}  // namespace
}  // namespace hwca::attest
