// The CA core's path: keys loaded by URI through OSSL_STORE into the built-in hwca provider,
// then used with plain OpenSSL APIs (EVP_DigestSign, X509_REQ_sign_ctx, X509_sign_ctx,
// X509_CRL_sign_ctx). Every signature is checked with the public key alone, in the default
// provider.
#include <gtest/gtest.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "ca/crypto_context.hpp"
#include "integration_env.hpp"
#include "support/sign_check.hpp"

namespace hwca::test {
namespace {

ossl::Ptr<EVP_PKEY> public_copy(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  EXPECT_GT(len, 0);
  const unsigned char* p = der;
  ossl::Ptr<EVP_PKEY> pub(d2i_PUBKEY(nullptr, &p, len));
  OPENSSL_free(der);
  return pub;
}

class ProviderSign : public ::testing::TestWithParam<tokens::KeyType> {
 protected:
  void SetUp() override {
    auto ctx = ca::CryptoContext::create();
    ASSERT_TRUE(ctx) << ctx.error().message;
    ctx_ = std::move(*ctx);
    std::string label =
        std::string("sign-") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    uri_ = make_key(label, GetParam());
    auto key = ctx_->load_private_key(uri_, key_options());
    ASSERT_TRUE(key) << key.error().message;
    key_ = std::move(*key);
    pub_ = public_copy(key_.get());
    ASSERT_TRUE(pub_);
  }

  // Sign with the token key through the provider; verify in the default provider.
  void sign_and_verify(const char* digest, bool pss) {
    expect_digest_sign_verifies(ctx_->libctx(), key_.get(), pub_.get(), digest, pss,
                                "to be signed by a key that never leaves the token");
  }

  ossl::Ptr<EVP_MD_CTX> signing_ctx() {
    ossl::Ptr<EVP_MD_CTX> mctx(EVP_MD_CTX_new());
    EXPECT_EQ(EVP_DigestSignInit_ex(mctx.get(), nullptr, "SHA256", ctx_->libctx(), nullptr,
                                    key_.get(), nullptr),
              1);
    return mctx;
  }

  std::unique_ptr<ca::CryptoContext> ctx_;
  std::string uri_;
  ossl::Ptr<EVP_PKEY> key_, pub_;
};

TEST_P(ProviderSign, DigestSignVerifiesWithThePublicKey) {
  for (const char* digest : {"SHA256", "SHA384", "SHA512"}) sign_and_verify(digest, false);
  if (tokens::is_rsa(GetParam())) {
    for (const char* digest : {"SHA256", "SHA384", "SHA512"}) sign_and_verify(digest, true);
  }
}

TEST_P(ProviderSign, PublicKeyMatchesTheTokenAndSizeIsRight) {
  EXPECT_EQ(EVP_PKEY_get_bits(key_.get()), tokens::key_bits(GetParam()));
  EXPECT_EQ(EVP_PKEY_eq(key_.get(), pub_.get()), 1);
  EXPECT_EQ(EVP_PKEY_is_a(key_.get(), tokens::is_rsa(GetParam()) ? "RSA" : "EC"), 1);
}

TEST_P(ProviderSign, CertificateRequestSignedInTheTokenVerifies) {
  ossl::Ptr<X509_REQ> req(X509_REQ_new_ex(ctx_->libctx(), nullptr));
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("hwca-test"), -1, -1, 0);
  ASSERT_EQ(X509_REQ_set_pubkey(req.get(), key_.get()), 1) << ossl::take_errors();
  auto mctx = signing_ctx();
  ASSERT_GT(X509_REQ_sign_ctx(req.get(), mctx.get()), 0) << ossl::take_errors();
  EXPECT_EQ(X509_REQ_verify(req.get(), pub_.get()), 1);
}

TEST_P(ProviderSign, SelfSignedCertificateAndCrlVerifyAndKeyMatchesCertificate) {
  ossl::Ptr<X509> cert(X509_new_ex(ctx_->libctx(), nullptr));
  ASSERT_EQ(X509_set_version(cert.get(), X509_VERSION_3), 1);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 42);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("hwca test root"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  ASSERT_EQ(X509_set_pubkey(cert.get(), key_.get()), 1);
  auto mctx = signing_ctx();
  ASSERT_GT(X509_sign_ctx(cert.get(), mctx.get()), 0) << ossl::take_errors();
  EXPECT_EQ(X509_verify(cert.get(), pub_.get()), 1);
  // OpenSSL compares the certificate's key with the token key (import + match).
  EXPECT_EQ(X509_check_private_key(cert.get(), key_.get()), 1) << ossl::take_errors();

  ossl::Ptr<X509_CRL> crl(X509_CRL_new_ex(ctx_->libctx(), nullptr));
  ASSERT_EQ(X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2), 1);
  X509_CRL_set_issuer_name(crl.get(), name);
  ASN1_TIME* now = ASN1_TIME_set(nullptr, time(nullptr));
  X509_CRL_set1_lastUpdate(crl.get(), now);
  ASN1_TIME_free(now);
  auto crl_ctx = signing_ctx();
  ASSERT_GT(X509_CRL_sign_ctx(crl.get(), crl_ctx.get()), 0) << ossl::take_errors();
  EXPECT_EQ(X509_CRL_verify(crl.get(), pub_.get()), 1);
}

TEST_P(ProviderSign, AnotherKeyDoesNotMatch) {
  ossl::Ptr<EVP_PKEY> other(tokens::is_rsa(GetParam())
                                ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})
                                : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_TRUE(other);
  EXPECT_NE(EVP_PKEY_eq(key_.get(), other.get()), 1);
  ERR_clear_error();
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ProviderSign, ::testing::ValuesIn(kAllTypes), type_test_name);

TEST(ProviderLoad, MissingKeyFailsWithNotFound) {
  auto ctx = ca::CryptoContext::create();
  ASSERT_TRUE(ctx);
  auto key = (*ctx)->load_private_key(g_token->key_uri("no-such-key"), key_options());
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().kind, ErrorKind::not_found) << key.error().message;
  EXPECT_NE(key.error().message.find("no-such-key"), std::string::npos) << key.error().message;
}

}  // namespace
}  // namespace hwca::test
