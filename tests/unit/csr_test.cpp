// Unit tests for src/ca/csr.hpp with requests made by plain OpenSSL: PEM (both labels) and
// DER are read; a wrong PEM label, truncation, garbage, bytes after the request, two
// requests, an oversize input and a signature that does not verify are refused, each as a
// usage error naming the input.
#include "ca/csr.hpp"

#include <gtest/gtest.h>

#include "support/test_csr.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::kMaxCsrBytes;
using hwca::ca::parse_csr;
namespace test = hwca::test;

struct CsrTest : ::testing::Test {
  hwca::ossl::Ptr<EVP_PKEY> key = test::ec_key("P-256");
  hwca::ossl::Ptr<X509_REQ> req = test::simple_csr(key.get(), "a.example", "DNS:a.example");
  std::string pem = test::csr_pem(req.get());
  std::string der = test::csr_der(req.get());

  // Accepted, and the same request (same DER) as the one made.
  void expect_read(const std::string& data) {
    auto parsed = parse_csr(data, "req.pem", nullptr);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(test::csr_der(parsed->get()), der);
  }
  void expect_refused(const std::string& data, const std::string& needle) {
    auto parsed = parse_csr(data, "req.pem", nullptr);
    ASSERT_FALSE(parsed) << "accepted; expected '" << needle << "'";
    EXPECT_EQ(parsed.error().kind, ErrorKind::usage);
    EXPECT_NE(parsed.error().message.find("req.pem"), std::string::npos) << parsed.error().message;
    EXPECT_NE(parsed.error().message.find(needle), std::string::npos) << parsed.error().message;
    EXPECT_EQ(parsed.error().message.find('\n'), std::string::npos) << parsed.error().message;
  }
};

TEST_F(CsrTest, PemAndDerAreRead) {
  expect_read(pem);
  expect_read(der);
  expect_read("\n\n" + pem + "\n \n");  // blank lines around one block
}

TEST_F(CsrTest, TheOlderNewCertificateRequestLabelIsRead) {
  std::string old = pem;
  for (const char* edge : {"BEGIN ", "END "}) {
    auto at = old.find(std::string(edge) + "CERTIFICATE REQUEST");
    ASSERT_NE(at, std::string::npos);
    old.insert(at + std::string(edge).size(), "NEW ");
  }
  ASSERT_NE(old.find("-----BEGIN NEW CERTIFICATE REQUEST-----"), std::string::npos);
  expect_read(old);
}

TEST_F(CsrTest, RsaAndP384RequestsVerify) {
  auto rsa = test::rsa_key(2048);
  auto rsa_req = test::simple_csr(rsa.get(), "rsa");
  EXPECT_TRUE(parse_csr(test::csr_pem(rsa_req.get()), "rsa.pem", nullptr));
  auto p384 = test::ec_key("P-384");
  auto subject = test::name_of({{"CN", "p384"}});
  auto p384_req = test::make_csr(p384.get(), subject.get(), {}, "SHA384");
  EXPECT_TRUE(parse_csr(test::csr_der(p384_req.get()), "p384.der", nullptr));
}

TEST_F(CsrTest, APemOfAnotherKindIsRefused) {
  // A certificate where a request belongs.
  hwca::ossl::Ptr<X509> cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  X509_set_subject_name(cert.get(), X509_REQ_get_subject_name(req.get()));
  X509_set_issuer_name(cert.get(), X509_REQ_get_subject_name(req.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60);
  X509_set_pubkey(cert.get(), key.get());
  ASSERT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);
  hwca::ossl::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  expect_refused(std::string(data, len),
                 "holds a PEM \"CERTIFICATE\", not a \"CERTIFICATE "
                 "REQUEST\"");
  // A private key, whose PEM must never be taken for anything else.
  hwca::ossl::Ptr<BIO> kbio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(kbio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  len = BIO_get_mem_data(kbio.get(), &data);
  std::string key_pem(data, len);
  auto parsed = parse_csr(key_pem, "req.pem", nullptr);
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("holds a PEM \"PRIVATE KEY\""), std::string::npos);
  EXPECT_EQ(parsed.error().message.find("MII"), std::string::npos);  // no key bytes shown
}

TEST_F(CsrTest, TruncatedInputIsRefused) {
  expect_refused(pem.substr(0, pem.size() / 2), "is not valid PEM");
  expect_refused(pem.substr(0, pem.find("-----END")), "is not valid PEM");
  for (size_t cut : {der.size() - 1, der.size() / 2, size_t{4}, size_t{1}}) {
    SCOPED_TRACE(cut);
    expect_refused(der.substr(0, cut), "is not a certificate request (garbage or truncated)");
  }
  // Whole base64 lines missing from the middle: still a PEM block, but not a whole request.
  std::string holed = pem;
  auto first_line = holed.find('\n') + 1;
  holed.erase(first_line, 64 + 1);
  expect_refused(holed, "is not a certificate request");
}

TEST_F(CsrTest, GarbageIsRefused) {
  expect_refused("", "is empty");
  expect_refused("hello, CA\n", "garbage or truncated");
  expect_refused(std::string(100, '\0'), "garbage or truncated");
  expect_refused("-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n",
                 "is not valid PEM");
  expect_refused("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n",
                 "req.pem");
  // A DER SEQUENCE that is something else: a bare SubjectPublicKeyInfo.
  unsigned char* spki = nullptr;
  int len = i2d_PUBKEY(key.get(), &spki);
  ASSERT_GT(len, 0);
  std::string spki_der(reinterpret_cast<char*>(spki), len);
  OPENSSL_free(spki);
  expect_refused(spki_der, "garbage or truncated");
}

TEST_F(CsrTest, BytesAfterTheRequestAreRefused) {
  expect_refused(der + std::string(1, '\0'), "has bytes after the request");
  expect_refused(der + der, "has bytes after the request");
  expect_refused(pem + "trailing text\n", "req.pem has text after the request");
}

TEST_F(CsrTest, TwoRequestsAreRefused) {
  auto other = test::simple_csr(key.get(), "b.example");
  expect_refused(pem + test::csr_pem(other.get()), "holds more than one request");
}

TEST_F(CsrTest, InputLargerThan64KiBIsRefusedBeforeParsing) {
  ASSERT_EQ(kMaxCsrBytes, 64u * 1024);
  std::string padded = pem + std::string(kMaxCsrBytes - pem.size(), '\n');
  ASSERT_EQ(padded.size(), kMaxCsrBytes);
  expect_read(padded);
  expect_refused(padded + "\n", "is larger than 64 KiB");
  expect_refused(std::string(10 * kMaxCsrBytes, 'A'), "is larger than 64 KiB");
}

// The signature's last byte flipped: a well-formed request whose signature is wrong. For
// RSA that byte is the signature value itself; the request is otherwise the same.
TEST_F(CsrTest, ARequestWhoseSignatureDoesNotVerifyIsRefused) {
  auto rsa = test::rsa_key(2048);
  auto rsa_req = test::simple_csr(rsa.get(), "rsa.example");
  std::string bad = test::csr_der(rsa_req.get());
  bad.back() = static_cast<char>(bad.back() ^ 0x01);
  expect_refused(bad, "the request's signature does not verify with its own key");

  // ECDSA: flip a byte of the subject (signed content), so the DER stays well-formed.
  std::string ec_bad = der;
  auto at = ec_bad.find("a.example");
  ASSERT_NE(at, std::string::npos);
  ec_bad[at] = 'b';
  expect_refused(ec_bad, "does not verify");

  // Signed by another key than the one it carries.
  auto other = test::ec_key("P-256");
  auto subject = test::name_of({{"CN", "x"}});
  auto swapped = test::make_csr(other.get(), subject.get());
  ASSERT_EQ(X509_REQ_set_pubkey(swapped.get(), key.get()), 1);  // after signing
  hwca::ossl::Ptr<X509_REQ> copy(X509_REQ_dup(swapped.get()));
  expect_refused(test::csr_der(copy.get()), "does not verify");
}

TEST_F(CsrTest, TheSourceNamesTheInputInErrors) {
  auto parsed = parse_csr("junk", "request 3", nullptr);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().message.find("request 3 "), 0u) << parsed.error().message;
}

// RFC 2986: version is 0 (v1); nothing else is defined.
TEST_F(CsrTest, AnUnknownVersionIsRefused) {
  ASSERT_EQ(X509_REQ_set_version(req.get(), 1), 1);
  ASSERT_GT(X509_REQ_sign(req.get(), key.get(), EVP_sha256()), 0);
  expect_refused(test::csr_der(req.get()), "has an unknown request version");
}

}  // namespace
