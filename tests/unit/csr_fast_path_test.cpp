// Unit tests for src/ca/csr_fast_path.hpp: EC requests on P-256, P-384 and P-521 (points
// compressed or not) are taken whole, encode to the bytes received and carry the same key;
// everything else is left to parse_csr's ordinary path (null), which still decides as before:
// RSA, Ed25519 and other curves are read there, and a wrong signature, a point off the curve,
// an unknown version, garbage, trailing bytes and a request that is not strict DER give null.
#include "ca/csr_fast_path.hpp"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/provider.h>

#include <memory>
#include <thread>
#include <vector>

#include "ca/csr.hpp"
#include "support/test_csr.hpp"

namespace {

using hwca::ca::parse_csr;
using hwca::ca::parse_named_curve_request;
namespace test = hwca::test;

std::string request_der(EVP_PKEY* key, const char* digest = "SHA256") {
  auto subject = test::name_of({{"CN", "system:node:n1"}, {"O", "system:nodes"}});
  auto san = test::ext("subjectAltName", "DNS:n1.example");
  return test::csr_der(test::make_csr(key, subject.get(), {san.get()}, digest).get());
}

// Taken by the fast path: the same bytes, the same key, and a key hwca's checks can read.
void expect_taken(EVP_PKEY* key, const std::string& der, const char* group) {
  auto req = parse_named_curve_request(der, nullptr);
  ASSERT_TRUE(req) << group;
  EXPECT_EQ(test::csr_der(req.get()), der);
  EVP_PKEY* got = X509_REQ_get0_pubkey(req.get());
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(EVP_PKEY_eq(got, key), 1);
  EXPECT_TRUE(EVP_PKEY_is_a(got, "EC"));
  char name[64] = {0};
  size_t len = 0;
  ASSERT_EQ(
      EVP_PKEY_get_utf8_string_param(got, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len), 1);
  EXPECT_STREQ(name, group);
  auto parsed = parse_csr(der, "req", nullptr);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(test::csr_der(parsed->get()), der);
}

// Left to the ordinary path, which reads it as before.
void expect_left_and_read(const std::string& der) {
  EXPECT_FALSE(parse_named_curve_request(der, nullptr));
  auto parsed = parse_csr(der, "req", nullptr);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_NE(X509_REQ_get0_pubkey(parsed->get()), nullptr);
}

// Left to the ordinary path, which refuses it as before.
void expect_left_and_refused(const std::string& der, const std::string& needle) {
  EXPECT_FALSE(parse_named_curve_request(der, nullptr));
  auto parsed = parse_csr(der, "req", nullptr);
  ASSERT_FALSE(parsed) << "accepted; expected '" << needle << "'";
  EXPECT_NE(parsed.error().message.find(needle), std::string::npos) << parsed.error().message;
}

TEST(CsrFastPath, NamedCurveRequestsAreTakenWhole) {
  auto p256 = test::ec_key("P-256");
  expect_taken(p256.get(), request_der(p256.get()), "prime256v1");
  auto p384 = test::ec_key("P-384");
  expect_taken(p384.get(), request_der(p384.get(), "SHA384"), "secp384r1");
  auto p521 = test::ec_key("P-521");
  expect_taken(p521.get(), request_der(p521.get(), "SHA512"), "secp521r1");
}

TEST(CsrFastPath, ACompressedPointIsTakenAndStaysCompressed) {
  auto key = test::ec_key("P-256");
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(key.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           "compressed"),
            1);
  std::string der = request_der(key.get());
  expect_taken(key.get(), der, "prime256v1");
}

TEST(CsrFastPath, OtherKeysAreLeftToTheOrdinaryPath) {
  auto rsa = test::rsa_key(2048);
  expect_left_and_read(request_der(rsa.get()));
  auto ed = test::ed25519_key();
  expect_left_and_read(request_der(ed.get(), nullptr));
  auto brainpool = test::ec_key("brainpoolP256r1");
  expect_left_and_read(request_der(brainpool.get()));
}

TEST(CsrFastPath, ARequestThatIsNotStrictDerIsLeftToTheOrdinaryPath) {
  auto key = test::ec_key("P-256");
  std::string der = request_der(key.get());
  // The outer length in a longer form than needed: outside the signed part, so the request
  // still verifies, but it no longer encodes to the bytes received.
  const auto form = static_cast<unsigned char>(der[1]);  // 0x8N: N length bytes follow
  ASSERT_TRUE(form == 0x81 || form == 0x82);
  std::string ber = der.substr(0, 1) + static_cast<char>(form + 1) + '\0' + der.substr(2);
  expect_left_and_read(ber);
}

TEST(CsrFastPath, AWrongSignatureIsLeftToTheOrdinaryPathWhichRefusesIt) {
  auto key = test::ec_key("P-256");
  std::string der = request_der(key.get());
  auto at = der.find("system:node:n1");
  ASSERT_NE(at, std::string::npos);
  der[at] = 'S';  // signed content changed, the DER still well-formed
  expect_left_and_refused(der, "does not verify");

  // Signed by another key than the one it carries.
  auto other = test::ec_key("P-256");
  auto subject = test::name_of({{"CN", "x"}});
  auto swapped = test::make_csr(other.get(), subject.get());
  ASSERT_EQ(X509_REQ_set_pubkey(swapped.get(), key.get()), 1);  // after signing
  hwca::ossl::Ptr<X509_REQ> copy(X509_REQ_dup(swapped.get()));
  expect_left_and_refused(test::csr_der(copy.get()), "does not verify");
}

TEST(CsrFastPath, APointOffTheCurveIsLeftToTheOrdinaryPathWhichRefusesIt) {
  auto key = test::ec_key("P-256");
  auto req = test::simple_csr(key.get(), "n1");
  std::string der = test::csr_der(req.get());
  const unsigned char* point = nullptr;
  int point_len = 0;
  ASSERT_EQ(X509_PUBKEY_get0_param(nullptr, &point, &point_len, nullptr,
                                   X509_REQ_get_X509_PUBKEY(req.get())),
            1);
  auto at = der.find(std::string(reinterpret_cast<const char*>(point), point_len));
  ASSERT_NE(at, std::string::npos);
  der[at + 20] = static_cast<char>(der[at + 20] ^ 0x01);  // in x
  expect_left_and_refused(der, "public key hwca cannot read");
}

TEST(CsrFastPath, MalformedInputGivesNull) {
  auto key = test::ec_key("P-256");
  auto req = test::simple_csr(key.get(), "n1");
  std::string der = test::csr_der(req.get());
  EXPECT_FALSE(parse_named_curve_request("", nullptr));
  EXPECT_FALSE(parse_named_curve_request("\x30\x03garbage", nullptr));
  EXPECT_FALSE(parse_named_curve_request(der.substr(0, der.size() - 1), nullptr));
  EXPECT_FALSE(parse_named_curve_request(der + std::string(1, '\0'), nullptr));
  EXPECT_TRUE(parse_named_curve_request(der, nullptr));  // the same request, whole

  ASSERT_EQ(X509_REQ_set_version(req.get(), 1), 1);
  ASSERT_GT(X509_REQ_sign(req.get(), key.get(), EVP_sha256()), 0);
  expect_left_and_refused(test::csr_der(req.get()), "unknown request version");
}

// In a library context other than the default one, the signature is checked with the key
// put into the request (in the default one, with a provider copy of it).
TEST(CsrFastPath, AnotherLibraryContextChecksTheSignatureToo) {
  std::unique_ptr<OSSL_LIB_CTX, decltype(&OSSL_LIB_CTX_free)> ctx(OSSL_LIB_CTX_new(),
                                                                  OSSL_LIB_CTX_free);
  ASSERT_TRUE(ctx);
  OSSL_PROVIDER* prov = OSSL_PROVIDER_load(ctx.get(), "default");
  ASSERT_NE(prov, nullptr);
  auto key = test::ec_key("P-256");
  std::string der = request_der(key.get());
  auto req = parse_named_curve_request(der, ctx.get());
  ASSERT_TRUE(req);
  EXPECT_EQ(test::csr_der(req.get()), der);
  EXPECT_EQ(EVP_PKEY_eq(X509_REQ_get0_pubkey(req.get()), key.get()), 1);
  der[der.find("system:node:n1")] = 'S';
  EXPECT_FALSE(parse_named_curve_request(der, ctx.get()));
  auto parsed = parse_csr(der, "req", ctx.get());
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("does not verify"), std::string::npos);
  req.reset();
  OSSL_PROVIDER_unload(prov);
}

// The library context without providers is shared by every thread.
TEST(CsrFastPath, ThreadsParseAtOnce) {
  auto key = test::ec_key("P-256");
  const std::string der = request_der(key.get());
  std::vector<int> taken(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < taken.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) taken[t] += parse_named_curve_request(der, nullptr) ? 1 : 0;
    });
  }
  for (auto& th : threads) th.join();
  for (int n : taken) EXPECT_EQ(n, 50);
}

}  // namespace
