// Unit tests for tokens/sig_encoding.hpp: PKCS#1 v1.5 DigestInfo (RFC 8017 9.2, note 1),
// raw r||s to DER ECDSA-Sig-Value (checked against signatures made by OpenSSL itself), and
// the digest sizes hwca signs with.
#include "tokens/sig_encoding.hpp"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/ossl.hpp"

namespace {

using hwca::tokens::digest_info;
using hwca::tokens::ecdsa_raw_to_der;
using Bytes = std::vector<uint8_t>;

Bytes from_hex(const std::string& hex) {
  Bytes out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

Bytes concat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Bytes pattern(size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(0xA0 + i);
  return out;
}

// RFC 8017 section 9.2, note 1: the DER prefixes of DigestInfo for each hash.
TEST(DigestInfo, MatchesRfc8017Prefixes) {
  struct Case {
    const char* name;
    size_t len;
    const char* prefix;
  };
  const Case cases[] = {
      {"SHA256", 32, "3031300d060960864801650304020105000420"},
      {"SHA384", 48, "3041300d060960864801650304020205000430"},
      {"SHA512", 64, "3051300d060960864801650304020305000440"},
      {"SHA2-256", 32, "3031300d060960864801650304020105000420"},
      {"SHA-512", 64, "3051300d060960864801650304020305000440"},
  };
  for (const Case& c : cases) {
    Bytes h = pattern(c.len);
    auto di = digest_info(c.name, h);
    ASSERT_TRUE(di.has_value()) << c.name << ": " << di.error().message;
    EXPECT_EQ(*di, concat(from_hex(c.prefix), h)) << c.name;
  }
}

TEST(DigestInfo, RefusesUnknownDigestsAndWrongLengths) {
  EXPECT_FALSE(digest_info("SHA1", pattern(20)).has_value());
  EXPECT_FALSE(digest_info("MD5", pattern(16)).has_value());
  EXPECT_FALSE(digest_info("", pattern(32)).has_value());
  EXPECT_FALSE(digest_info("NOPE", pattern(32)).has_value());
  EXPECT_FALSE(digest_info("SHA256", pattern(31)).has_value());
  EXPECT_FALSE(digest_info("SHA256", pattern(33)).has_value());
  EXPECT_FALSE(digest_info("SHA256", Bytes{}).has_value());
  EXPECT_FALSE(digest_info("SHA384", pattern(32)).has_value());
  EXPECT_FALSE(digest_info("SHA512", pattern(48)).has_value());
}

TEST(SigningDigestSize, KnownAndRefusedNames) {
  using hwca::tokens::signing_digest_size;
  for (const char* n : {"SHA256", "SHA2-256", "SHA-256"})
    EXPECT_EQ(signing_digest_size(n), 32u) << n;
  for (const char* n : {"SHA384", "SHA2-384", "SHA-384"})
    EXPECT_EQ(signing_digest_size(n), 48u) << n;
  for (const char* n : {"SHA512", "SHA2-512", "SHA-512"})
    EXPECT_EQ(signing_digest_size(n), 64u) << n;
  for (const char* n : {"SHA1", "MD5", "SHA224", "SHA3-256", "", "sha-999"}) {
    EXPECT_EQ(signing_digest_size(n), 0u) << n;
  }
}

using Pkey = hwca::ossl::Ptr<EVP_PKEY>;

Bytes sign(EVP_PKEY* key, const char* md, const Bytes& msg) {
  hwca::ossl::Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, md, nullptr, nullptr, key, nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size()) != 1) {
    return {};
  }
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size()) != 1) return {};
  sig.resize(len);
  return sig;
}

bool verifies(EVP_PKEY* key, const char* md, const Bytes& msg, const Bytes& sig) {
  hwca::ossl::Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  return EVP_DigestVerifyInit_ex(ctx.get(), nullptr, md, nullptr, nullptr, key, nullptr) == 1 &&
         EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), msg.data(), msg.size()) == 1;
}

// DER signature -> r||s, each padded to `half` bytes; also reports the unpadded sizes.
Bytes to_raw(const Bytes& der, int half, int* r_len, int* s_len) {
  const unsigned char* p = der.data();
  hwca::ossl::Ptr<ECDSA_SIG> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return {};
  Bytes raw(2 * static_cast<size_t>(half));
  const BIGNUM* r = ECDSA_SIG_get0_r(sig.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());
  *r_len = BN_num_bytes(r);
  *s_len = BN_num_bytes(s);
  if (BN_bn2binpad(r, raw.data(), half) != half ||
      BN_bn2binpad(s, raw.data() + half, half) != half) {
    return {};
  }
  return raw;
}

void check_round_trip(const char* curve, const char* md, int half, int rounds_max) {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
  ASSERT_TRUE(key) << curve;
  bool short_r = false, short_s = false;
  int round = 0;
  for (; round < rounds_max && !(short_r && short_s); ++round) {
    Bytes msg = {'m', 's', 'g', static_cast<uint8_t>(round), static_cast<uint8_t>(round >> 8)};
    Bytes der = sign(key.get(), md, msg);
    ASSERT_FALSE(der.empty());
    int r_len = 0, s_len = 0;
    Bytes raw = to_raw(der, half, &r_len, &s_len);
    ASSERT_EQ(raw.size(), 2 * static_cast<size_t>(half));
    short_r = short_r || r_len < half;
    short_s = short_s || s_len < half;
    auto back = ecdsa_raw_to_der(raw);
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_EQ(*back, der) << curve << " round " << round << " r_len " << r_len << " s_len "
                          << s_len;
    EXPECT_TRUE(verifies(key.get(), md, msg, *back)) << curve << " round " << round;
  }
  // r and s each have a leading zero byte with probability 1/256 per signature.
  EXPECT_TRUE(short_r) << "no signature with a short r in " << round << " tries";
  EXPECT_TRUE(short_s) << "no signature with a short s in " << round << " tries";
}

TEST(EcdsaRawToDer, RoundTripsOpenSslP256Signatures) {
  check_round_trip("P-256", "SHA256", 32, 20000);
}

TEST(EcdsaRawToDer, RoundTripsOpenSslP384Signatures) {
  check_round_trip("P-384", "SHA384", 48, 20000);
}

TEST(EcdsaRawToDer, HandComputedDer) {
  // r = 0x80 needs a 0x00 sign byte (X.690 8.3); s = 1; leading zero bytes are dropped.
  auto der = ecdsa_raw_to_der(Bytes{0x00, 0x80, 0x00, 0x01});
  ASSERT_TRUE(der.has_value()) << der.error().message;
  EXPECT_EQ(*der, from_hex("300702020080020101"));
  der = ecdsa_raw_to_der(Bytes{0x7f, 0x01});
  ASSERT_TRUE(der.has_value()) << der.error().message;
  EXPECT_EQ(*der, from_hex("30060201"
                           "7f"
                           "020101"));
}

TEST(EcdsaRawToDer, RefusesOddAndEmptyInput) {
  EXPECT_FALSE(ecdsa_raw_to_der(Bytes{}).has_value());
  EXPECT_FALSE(ecdsa_raw_to_der(Bytes{0x01}).has_value());
  EXPECT_FALSE(ecdsa_raw_to_der(Bytes(63, 0x11)).has_value());
  EXPECT_FALSE(ecdsa_raw_to_der(Bytes(65, 0x11)).has_value());
}

}  // namespace
