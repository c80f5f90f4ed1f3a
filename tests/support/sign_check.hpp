// The check every provider test makes of a device key: sign through the provider's library
// context, verify in OpenSSL's default provider.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/ossl.hpp"

namespace hwca::test {

// Sign `msg` with `key` in `libctx` (EVP_DigestSign with `digest`; RSA-PSS with a salt as
// long as the digest when `pss`), then check with `pub` in the default provider that the
// signature verifies and that a copy with one bit flipped does not (so the check can fail).
inline void expect_digest_sign_verifies(OSSL_LIB_CTX* libctx, EVP_PKEY* key, EVP_PKEY* pub,
                                        const char* digest, bool pss, std::string_view msg) {
  SCOPED_TRACE(std::string(digest) + (pss ? " PSS" : ""));
  const auto* data = reinterpret_cast<const unsigned char*>(msg.data());
  ossl::Ptr<EVP_MD_CTX> mctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  ASSERT_EQ(EVP_DigestSignInit_ex(mctx.get(), &pctx, digest, libctx, nullptr, key, nullptr), 1)
      << ossl::take_errors();
  if (pss) {
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST), 1);
  }
  size_t len = 0;
  ASSERT_EQ(EVP_DigestSign(mctx.get(), nullptr, &len, data, msg.size()), 1);
  std::vector<unsigned char> sig(len);
  ASSERT_EQ(EVP_DigestSign(mctx.get(), sig.data(), &len, data, msg.size()), 1)
      << ossl::take_errors();
  sig.resize(len);

  ossl::Ptr<EVP_MD_CTX> vctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* vp = nullptr;
  ASSERT_EQ(
      EVP_DigestVerifyInit_ex(vctx.get(), &vp, digest, nullptr, ossl::kDefaultProps, pub, nullptr),
      1);
  if (pss) {
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(vp, RSA_PKCS1_PSS_PADDING), 1);
    ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(vp, RSA_PSS_SALTLEN_DIGEST), 1);
  }
  EXPECT_EQ(EVP_DigestVerify(vctx.get(), sig.data(), sig.size(), data, msg.size()), 1);
  sig[sig.size() / 2] ^= 0x01;
  EXPECT_NE(EVP_DigestVerify(vctx.get(), sig.data(), sig.size(), data, msg.size()), 1);
  ERR_clear_error();
}

}  // namespace hwca::test
