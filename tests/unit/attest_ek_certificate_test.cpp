// Unit tests for EK certificates (src/attest/ek_certificate.hpp): what vendors' NV blobs
// hold is parsed (PEM, DER, the 10 01 00 header, 00/FF padding), anything else refused;
// chains of the real shape (root -> intermediate -> EK with a critical TCG subjectAltName
// and the EK EKU) verify, and fail from another root, without the intermediate, or altered.
#include <gtest/gtest.h>
#include <openssl/pem.h>

#include "attest/ek_certificate.hpp"
#include "ca/spki.hpp"
#include "unit/attest_keys.hpp"
#include "unit/ek_cert_maker.hpp"

namespace hwca::attest {
namespace {

using hwca::test::make_ek_chain_cert;

std::span<const uint8_t> span_of(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

std::vector<uint8_t> pem_of(X509* x) {
  ossl::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), x);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::vector<uint8_t>(data, data + len);
}

class EkCertificate : public ::testing::Test {
 protected:
  void SetUp() override {
    root_key_ = test::ec_key("P-384");
    root_ = make_ek_chain_cert(root_key_.get(), {.cn = "Maker EK Root", .ca = true});
    int_key_ = test::ec_key("P-256");
    intermediate_ =
        make_ek_chain_cert(int_key_.get(), {.cn = "Maker EK CA 1", .ca = true, .serial = 2},
                           root_.get(), root_key_.get());
    ek_key_ = test::rsa_key(2048);
    ek_ = make_ek_chain_cert(ek_key_.get(), {.cn = "", .ca = false, .serial = 0x45},
                             intermediate_.get(), int_key_.get());
    der_ = hwca::test::der_of(ek_.get());
  }

  Status verify(X509* ek, std::vector<X509*> anchors, std::vector<X509*> intermediates) {
    return verify_ek_chain(ek, anchors, intermediates);
  }

  ossl::Ptr<EVP_PKEY> root_key_, int_key_, ek_key_;
  ossl::Ptr<X509> root_, intermediate_, ek_;
  std::vector<uint8_t> der_;
};

TEST_F(EkCertificate, DerAndPemAreParsed) {
  auto from_der = parse_ek_certificate(span_of(der_));
  ASSERT_TRUE(from_der) << from_der.error().message;
  EXPECT_EQ(X509_cmp(from_der->get(), ek_.get()), 0);
  auto pem = pem_of(ek_.get());
  pem.insert(pem.begin(), {'\n', ' '});
  auto from_pem = parse_ek_certificate(span_of(pem));
  ASSERT_TRUE(from_pem) << from_pem.error().message;
  EXPECT_EQ(X509_cmp(from_pem->get(), ek_.get()), 0);
}

TEST_F(EkCertificate, TheNvHeaderAndPaddingAreTolerated) {
  // 10 01 00 LL LL, the certificate, then bytes past the stated length (dropped).
  std::vector<uint8_t> nv = {0x10, 0x01, 0x00, static_cast<uint8_t>(der_.size() >> 8),
                             static_cast<uint8_t>(der_.size() & 0xff)};
  nv.insert(nv.end(), der_.begin(), der_.end());
  nv.insert(nv.end(), {0x12, 0x34});
  auto wrapped = parse_ek_certificate(span_of(nv));
  ASSERT_TRUE(wrapped) << wrapped.error().message;
  EXPECT_EQ(X509_cmp(wrapped->get(), ek_.get()), 0);

  std::vector<uint8_t> padded = der_;
  padded.insert(padded.end(), 64, 0xff);
  padded.insert(padded.end(), 16, 0x00);
  auto p = parse_ek_certificate(span_of(padded));
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(X509_cmp(p->get(), ek_.get()), 0);
}

TEST_F(EkCertificate, BytesAfterTheCertificateThatAreNotPaddingAreRefused) {
  std::vector<uint8_t> trailing = der_;
  trailing.insert(trailing.end(), {0x00, 0x00, 0x01});
  auto r = parse_ek_certificate(span_of(trailing));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::usage);
  EXPECT_NE(r.error().message.find("3 bytes that are not padding"), std::string::npos)
      << r.error().message;
}

TEST_F(EkCertificate, AnNvHeaderLongerThanTheBytesIsRefused) {
  std::vector<uint8_t> nv = {0x10, 0x01, 0x00, 0x7f, 0xff};
  nv.insert(nv.end(), der_.begin(), der_.end());
  auto r = parse_ek_certificate(span_of(nv));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("NV header says 32767 bytes"), std::string::npos)
      << r.error().message;
}

TEST_F(EkCertificate, GarbageIsRefusedInOneLine) {
  const std::vector<std::vector<uint8_t>> bad = {
      {},
      {'h', 'e', 'l', 'l', 'o'},
      {0x30},
      std::vector<uint8_t>(der_.begin(), der_.begin() + 100),  // cut short
      {0x30, 0x03, 0x02, 0x01, 0x01},                          // a SEQUENCE, not a certificate
      {'-', '-', '-', '-', '-', 'B', 'E', 'G', 'I', 'N', ' ', 'X', '-', '-', '-', '-', '-'},
  };
  for (const auto& b : bad) {
    auto r = parse_ek_certificate(span_of(b));
    ASSERT_FALSE(r) << b.size();
    EXPECT_EQ(r.error().kind, ErrorKind::usage);
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
  }
}

// OpenSSL 3's decoder refuses an INTEGER padded with a leading 00 (some STMicro serials):
// documented in ek_certificate.hpp; such a TPM is registered by its public key.
TEST_F(EkCertificate, ANonMinimalSerialIsRefused) {
  std::vector<uint8_t> der = der_;
  // 30 82 LL LL | 30 82 LL LL | a0 03 02 01 02 | 02 01 45: the serial becomes 02 02 00 45.
  ASSERT_EQ(der[1], 0x82);
  ASSERT_EQ(der[5], 0x82);
  ASSERT_EQ((std::vector<uint8_t>(der.begin() + 13, der.begin() + 16)),
            (std::vector<uint8_t>{0x02, 0x01, 0x45}));
  der[14] = 0x02;
  der.insert(der.begin() + 15, 0x00);
  for (size_t at : {size_t{2}, size_t{6}}) {
    const unsigned n = ((der[at] << 8) | der[at + 1]) + 1;
    der[at] = static_cast<uint8_t>(n >> 8);
    der[at + 1] = static_cast<uint8_t>(n & 0xff);
  }
  auto r = parse_ek_certificate(span_of(der));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("not an X.509 certificate"), std::string::npos)
      << r.error().message;
}

TEST_F(EkCertificate, PublicKeysArePemOrDerSpki) {
  const auto spki = ek_spki_der(ek_key_.get());
  ASSERT_FALSE(spki.empty());
  auto from_der = parse_ek_public_key(span_of(spki));
  ASSERT_TRUE(from_der) << from_der.error().message;
  EXPECT_EQ(EVP_PKEY_eq(from_der->get(), ek_key_.get()), 1);
  auto pem = ossl::public_key_pem(ek_key_.get());
  ASSERT_TRUE(pem);
  std::vector<uint8_t> pem_bytes(pem->begin(), pem->end());
  auto from_pem = parse_ek_public_key(span_of(pem_bytes));
  ASSERT_TRUE(from_pem) << from_pem.error().message;
  EXPECT_EQ(EVP_PKEY_eq(from_pem->get(), ek_key_.get()), 1);

  auto trailing = spki;
  trailing.push_back(0);
  EXPECT_FALSE(parse_ek_public_key(span_of(trailing)));
  EXPECT_FALSE(parse_ek_public_key(span_of(der_)));  // a certificate is not a public key
}

// The registry's key is the SHA-256 of the SubjectPublicKeyInfo, as the issuance store's.
TEST_F(EkCertificate, TheEkDigestIsTheSpkiSha256) {
  const std::string h = ek_spki_sha256(ek_key_.get());
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h, ca::spki_sha256(X509_get_X509_PUBKEY(ek_.get())));
  EXPECT_NE(h, ek_spki_sha256(int_key_.get()));
}

// The digest is taken over bytes put together from the key's numbers: exactly OpenSSL's own
// encoding of the key, for every kind of EK (and for a key that arrived through a TPM2B_PUBLIC).
TEST_F(EkCertificate, TheSpkiIsOpenSslsEncodingOfTheKey) {
  struct Case {
    const char* what;
    ossl::Ptr<EVP_PKEY> key;
  };
  Case cases[] = {{"RSA-2048", test::rsa_key(2048)}, {"RSA-3072", test::rsa_key(3072)},
                  {"P-256", test::ec_key("P-256")},  {"P-384", test::ec_key("P-384")},
                  {"P-521", test::ec_key("P-521")}};
  for (auto& c : cases) {
    SCOPED_TRACE(c.what);
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(c.key.get(), &der);
    ASSERT_GT(len, 0);
    std::vector<uint8_t> expected(der, der + len);
    OPENSSL_free(der);
    EXPECT_EQ(ek_spki_der(c.key.get()), expected);
    // A public-only copy, as the server holds the EK.
    const unsigned char* p = expected.data();
    ossl::Ptr<EVP_PKEY> pub(d2i_PUBKEY(nullptr, &p, len));
    ASSERT_TRUE(pub);
    EXPECT_EQ(ek_spki_der(pub.get()), expected);
  }
}

TEST_F(EkCertificate, AChainOfTheRealShapeVerifies) {
  EXPECT_TRUE(verify(ek_.get(), {root_.get()}, {intermediate_.get()}));
  // An ECC P-384 EK from the same intermediate, and one straight from the root.
  auto ecc_key = test::ec_key("P-384");
  auto ecc = make_ek_chain_cert(ecc_key.get(), {.cn = "", .ca = false, .serial = 7},
                                intermediate_.get(), int_key_.get());
  EXPECT_TRUE(verify(ecc.get(), {root_.get()}, {intermediate_.get()}));
  auto direct = make_ek_chain_cert(ecc_key.get(), {.cn = "", .ca = false, .serial = 8}, root_.get(),
                                   root_key_.get());
  EXPECT_TRUE(verify(direct.get(), {root_.get()}, {}));
}

TEST_F(EkCertificate, AChainToAnotherRootIsRefused) {
  auto other_key = test::ec_key("P-256");
  auto other = make_ek_chain_cert(other_key.get(), {.cn = "Maker EK Root", .ca = true});
  auto r = verify(ek_.get(), {other.get()}, {intermediate_.get()});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::auth);
  EXPECT_NE(r.error().message.find("does not chain to a trusted EK root"), std::string::npos)
      << r.error().message;
}

TEST_F(EkCertificate, AMissingIntermediateIsRefused) {
  auto r = verify(ek_.get(), {root_.get()}, {});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("unable to get local issuer certificate"), std::string::npos)
      << r.error().message;
  EXPECT_FALSE(verify(ek_.get(), {}, {intermediate_.get()}));  // no anchor at all
}

TEST_F(EkCertificate, AnIntermediateThatIsNoCaIsRefused) {
  auto leaf_key = test::ec_key("P-256");
  auto not_ca = make_ek_chain_cert(leaf_key.get(), {.cn = "not a CA", .ca = false, .serial = 3},
                                   root_.get(), root_key_.get());
  auto ek = make_ek_chain_cert(ek_key_.get(), {.cn = "", .ca = false, .serial = 9}, not_ca.get(),
                               leaf_key.get());
  EXPECT_FALSE(verify(ek.get(), {root_.get()}, {not_ca.get()}));
}

TEST_F(EkCertificate, AnAlteredSignatureIsRefused) {
  std::vector<uint8_t> der = der_;
  der.back() ^= 0x01;  // in the signature's last byte
  auto altered = parse_ek_certificate(span_of(der));
  ASSERT_TRUE(altered) << altered.error().message;
  auto r = verify(altered->get(), {root_.get()}, {intermediate_.get()});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("signature"), std::string::npos) << r.error().message;
}

// Dates are not checked (ek_certificate.hpp): an expired EK certificate or intermediate,
// and one not yet valid, still chain.
TEST_F(EkCertificate, ValidityDatesAreNotChecked) {
  auto old_int = make_ek_chain_cert(int_key_.get(),
                                    {.cn = "Maker EK CA 1",
                                     .ca = true,
                                     .serial = 4,
                                     .not_before_days = -3000,
                                     .not_after_days = -1000},
                                    root_.get(), root_key_.get());
  auto old_ek = make_ek_chain_cert(
      ek_key_.get(),
      {.cn = "", .ca = false, .serial = 5, .not_before_days = -2000, .not_after_days = -1500},
      old_int.get(), int_key_.get());
  EXPECT_TRUE(verify(old_ek.get(), {root_.get()}, {old_int.get()}));
  auto future =
      make_ek_chain_cert(ek_key_.get(), {.cn = "", .ca = false, .serial = 6, .not_before_days = 30},
                         intermediate_.get(), int_key_.get());
  EXPECT_TRUE(verify(future.get(), {root_.get()}, {intermediate_.get()}));
}

}  // namespace
}  // namespace hwca::attest
