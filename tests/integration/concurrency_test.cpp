// Many threads sign at once with one shared EVP_PKEY (one login, pooled sessions); the
// module's use lock that orders those calls against a reinitialisation.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "ca/crypto_context.hpp"
#include "integration_env.hpp"
#include "tokens/pkcs11/session_pool.hpp"

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

// UseGate (tokens/pkcs11/session_pool.hpp): exclusive() waits for the shared holders and
// gives up after its timeout; what is written under it is seen by the next shared holder.
// Under ThreadSanitizer (ci/tsan.sh) this also checks that TSan sees the exclusive lock:
// taken in a wait it did not intercept, it reported Module::reinitialize's writes to the
// token's anchor as racing with relogin().
TEST(Concurrency, UseGateExclusiveExcludesSharedHolders) {
  using namespace std::chrono_literals;
  tokens::pkcs11::UseGate gate;
  {
    std::promise<void> holding, release;
    std::thread holder([&] {
      tokens::pkcs11::UseLock use = gate.shared();
      holding.set_value();
      release.get_future().wait();
    });
    holding.get_future().wait();
    auto refused = gate.exclusive(100ms);
    EXPECT_FALSE(refused.owns_lock()) << "taken while a session lease held the lock";
    release.set_value();
    holder.join();
  }
  int value = 0;  // plain: only the use lock orders the two threads' accesses
  auto exclusive = gate.exclusive(5s);
  ASSERT_TRUE(exclusive.owns_lock());
  std::atomic<bool> released{false};  // relaxed: no ordering of its own
  bool early = false;
  int seen = -1;
  std::thread reader([&] {
    tokens::pkcs11::UseLock use = gate.shared();
    early = !released.load(std::memory_order_relaxed);
    seen = value;
  });
  std::this_thread::sleep_for(50ms);  // the reader waits for the lock meanwhile
  value = 1;
  released.store(true, std::memory_order_relaxed);
  exclusive.unlock();
  reader.join();
  EXPECT_FALSE(early) << "a shared holder got in while the lock was held exclusively";
  EXPECT_EQ(seen, 1);
}

}  // namespace
}  // namespace hwca::test
