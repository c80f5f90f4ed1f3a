// Leaf keys read back (parse_private_key): each its own key, on any thread, in every form
// OpenSSL's PEM reader takes, and an encrypted or broken one refused.
#include "k8s/leaf_key.hpp"

#include <gtest/gtest.h>
#include <openssl/encoder.h>
#include <openssl/pem.h>

#include <thread>
#include <vector>

namespace hwca::k8s {
namespace {

ossl::Ptr<EVP_PKEY> new_key(const char* curve = "P-256") {
  return ossl::Ptr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

std::string pem_of(EVP_PKEY* key) {
  auto pem = private_key_pem(key);
  return pem ? std::string(pem->view()) : std::string();
}

// The key in OpenSSL's type-specific PEM ("EC PRIVATE KEY"), or its parameters alone.
std::string encoded(EVP_PKEY* key, int selection) {
  OSSL_ENCODER_CTX* ctx =
      OSSL_ENCODER_CTX_new_for_pkey(key, selection, "PEM", "type-specific", nullptr);
  unsigned char* data = nullptr;
  size_t len = 0;
  bool ok = ctx && OSSL_ENCODER_to_data(ctx, &data, &len) == 1;
  OSSL_ENCODER_CTX_free(ctx);
  std::string out = ok ? std::string(reinterpret_cast<char*>(data), len) : std::string();
  OPENSSL_free(data);
  return out;
}

TEST(ParsePrivateKey, EachKeyReadIsItsOwn) {
  std::vector<ossl::Ptr<EVP_PKEY>> keys;
  for (const char* curve : {"P-256", "P-384", "P-256"}) keys.push_back(new_key(curve));
  for (int round = 0; round < 2; ++round) {
    for (size_t i = 0; i < keys.size(); ++i) {
      auto read = parse_private_key(pem_of(keys[i].get()), "k.key");
      ASSERT_TRUE(read) << read.error().message;
      for (size_t j = 0; j < keys.size(); ++j) {
        EXPECT_EQ(EVP_PKEY_eq(read->get(), keys[j].get()) == 1, i == j) << i << " " << j;
      }
    }
  }
}

TEST(ParsePrivateKey, ReadsOnSeveralThreadsAtOnce) {
  std::vector<ossl::Ptr<EVP_PKEY>> keys;
  std::vector<std::string> pems;
  for (int i = 0; i < 8; ++i) {
    keys.push_back(new_key());
    pems.push_back(pem_of(keys.back().get()));
  }
  std::vector<int> right(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < right.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < 25; ++n) {
        size_t i = (t + static_cast<size_t>(n)) % keys.size();
        auto read = parse_private_key(pems[i], "k.key");
        if (read && EVP_PKEY_eq(read->get(), keys[i].get()) == 1) ++right[t];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int r : right) EXPECT_EQ(r, 25);
}

TEST(ParsePrivateKey, ReadsTheTraditionalFormAndAParametersBlockBeforeTheKey) {
  auto key = new_key();
  std::string traditional = encoded(key.get(), EVP_PKEY_KEYPAIR);
  ASSERT_NE(traditional.find("BEGIN EC PRIVATE KEY"), std::string::npos) << traditional;
  std::string params = encoded(key.get(), EVP_PKEY_KEY_PARAMETERS);
  ASSERT_NE(params.find("BEGIN EC PARAMETERS"), std::string::npos) << params;
  for (const std::string& text : {traditional, params + traditional}) {
    auto read = parse_private_key(text, "k.key");
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(EVP_PKEY_eq(read->get(), key.get()), 1);
  }
}

TEST(ParsePrivateKey, RefusesAnEncryptedOrBrokenKey) {
  auto key = new_key();
  ossl::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  static const char kPass[] = "made-at-run-time";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), kPass,
                                          sizeof kPass - 1, nullptr, nullptr),
            1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string good = pem_of(key.get());
  std::string broken = good;
  broken[broken.size() / 2] = '*';
  for (const std::string& text : {std::string(data, static_cast<size_t>(len)), broken,
                                  good.substr(0, good.size() / 2), std::string()}) {
    auto read = parse_private_key(text, "pki/x.key");
    ASSERT_FALSE(read);
    EXPECT_EQ(read.error().message, "pki/x.key holds no readable private key");
  }
  // and a good key is read after them on the same thread
  EXPECT_TRUE(parse_private_key(good, "k.key"));
}

}  // namespace
}  // namespace hwca::k8s
