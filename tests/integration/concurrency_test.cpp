// Many threads sign at once with one shared EVP_PKEY (one login, pooled sessions).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "ca/crypto_context.hpp"
#include "integration_env.hpp"

namespace hwca::test {
namespace {

void run_threads(tokens::KeyType type, int threads, int per_thread) {
  auto ctx = ca::CryptoContext::create();
  ASSERT_TRUE(ctx);
  std::string uri = make_key(std::string("threads-") + tokens::key_type_name(type), type);
  auto key = (*ctx)->load_private_key(uri, key_options());
  ASSERT_TRUE(key) << key.error().message;
  unsigned char* der = nullptr;
  int der_len = i2d_PUBKEY(key->get(), &der);
  const unsigned char* p = der;
  ossl::Ptr<EVP_PKEY> pub(d2i_PUBKEY(nullptr, &p, der_len));
  OPENSSL_free(der);
  ASSERT_TRUE(pub);

  std::atomic<int> good{0}, bad{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        std::string msg = "thread " + std::to_string(t) + " message " + std::to_string(i);
        ossl::Ptr<EVP_MD_CTX> sctx(EVP_MD_CTX_new());
        size_t len = 0;
        std::vector<unsigned char> sig(1024);
        len = sig.size();
        bool ok =
            EVP_DigestSignInit_ex(sctx.get(), nullptr, "SHA256", (*ctx)->libctx(), nullptr,
                                  key->get(), nullptr) == 1 &&
            EVP_DigestSign(sctx.get(), sig.data(), &len,
                           reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
        ossl::Ptr<EVP_MD_CTX> vctx(EVP_MD_CTX_new());
        ok = ok &&
             EVP_DigestVerifyInit_ex(vctx.get(), nullptr, "SHA256", nullptr, ossl::kDefaultProps,
                                     pub.get(), nullptr) == 1 &&
             EVP_DigestVerify(vctx.get(), sig.data(), len,
                              reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
        (ok ? good : bad)++;
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(good.load(), threads * per_thread);
}

TEST(Concurrency, EightThreadsSignEcP256AtOnce) { run_threads(tokens::KeyType::ec_p256, 8, 200); }
TEST(Concurrency, EightThreadsSignRsa2048AtOnce) { run_threads(tokens::KeyType::rsa_2048, 8, 25); }

}  // namespace
}  // namespace hwca::test
