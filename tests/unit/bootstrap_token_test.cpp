// Unit tests for src/ca/bootstrap_token.hpp: the text's format and alphabet, no modulo bias,
// uniqueness, id parsing that never repeats the text, SHA-256 against known values, and
// node names (RFC 1123 subdomains).
#include "ca/bootstrap_token.hpp"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>

#include "common/text.hpp"

namespace {

using hwca::ErrorKind;
using namespace hwca::ca;

const std::string kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

bool in_alphabet(char c) { return kAlphabet.find(c) != std::string::npos; }

std::string hex(const Sha256& h) { return hwca::hex_text(h.data(), h.size()); }

TEST(BootstrapTokenTest, TextIsSixDotThirtyTwoOfTheAlphabet) {
  for (int i = 0; i < 1000; ++i) {
    auto t = make_bootstrap_token();
    ASSERT_TRUE(t) << t.error().message;
    ASSERT_EQ(t->text.size(), 39u) << t->text;
    EXPECT_EQ(t->text[6], '.') << t->text;
    for (size_t j = 0; j < t->text.size(); ++j) {
      if (j != 6) {
        ASSERT_TRUE(in_alphabet(t->text[j])) << t->text;
      }
    }
    EXPECT_EQ(t->id, t->text.substr(0, 6));
    auto id = bootstrap_token_id(t->text);
    ASSERT_TRUE(id) << id.error().message;
    EXPECT_EQ(*id, t->id);
  }
}

TEST(BootstrapTokenTest, TextsAreUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    auto t = make_bootstrap_token();
    ASSERT_TRUE(t);
    EXPECT_TRUE(seen.insert(t->text).second) << "repeated: " << t->text;
  }
}

// Every character is drawn with the same probability. A byte taken modulo 36 without
// rejection gives 'a'-'d' 8/256 and the rest 7/256: 12.5% more, which this catches (each
// count must be within 4% of the mean, about six standard deviations).
TEST(BootstrapTokenTest, EveryCharacterIsEquallyLikely) {
  std::array<long, 256> count{};
  long total = 0;
  for (int i = 0; i < 20000; ++i) {
    auto t = make_bootstrap_token();
    ASSERT_TRUE(t);
    for (size_t j = 0; j < t->text.size(); ++j) {
      if (j == 6) continue;
      ++count[static_cast<unsigned char>(t->text[j])];
      ++total;
    }
  }
  const double mean = static_cast<double>(total) / 36;
  long in_alphabet_total = 0;
  for (char c : kAlphabet) {
    const long n = count[static_cast<unsigned char>(c)];
    in_alphabet_total += n;
    EXPECT_GT(n, mean * 0.96) << "'" << c << "' is drawn too rarely: " << n << " of " << total;
    EXPECT_LT(n, mean * 1.04) << "'" << c << "' is drawn too often: " << n << " of " << total;
  }
  EXPECT_EQ(in_alphabet_total, total);
}

TEST(BootstrapTokenTest, MalformedTextsAreRefusedWithoutRepeatingThem) {
  const std::string id = "k3x9q2", secret = "7hd0a9mzq1w8e5r4t6y2u3i0o9p8l7ab";
  ASSERT_EQ(secret.size(), 32u);
  const std::string good = id + "." + secret;
  ASSERT_TRUE(bootstrap_token_id(good));
  EXPECT_EQ(*bootstrap_token_id(good), id);

  std::string upper = good, dash = good, nul = good, dot_late = good;
  upper[10] = 'H';
  dash[20] = '-';
  nul[30] = '\0';
  dot_late[6] = 'x';
  dot_late[7] = '.';
  const std::string bad[] = {
      "",
      id,
      secret,
      id + secret,                        // no '.'
      id + "." + secret + "z",            // one too many
      id + "." + secret.substr(1),        // one too few
      id.substr(1) + "." + secret + "z",  // the '.' one place early
      dot_late,                           // and one place late
      id + ":" + secret,
      good + "\n",
      " " + good,
      upper,
      dash,
      nul,
      id + "." + secret.substr(0, 31) + "\xc3",
  };
  for (const auto& text : bad) {
    auto r = bootstrap_token_id(text);
    ASSERT_FALSE(r) << hwca::printable(text);
    EXPECT_EQ(r.error().kind, ErrorKind::usage) << hwca::printable(text);
    const std::string& m = r.error().message;
    EXPECT_FALSE(m.empty());
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    // Neither the id, nor the secret, nor any 8 characters of it, appear in the message.
    EXPECT_EQ(m.find(id.substr(0, 4)), std::string::npos) << m;
    for (size_t i = 0; i + 8 <= secret.size(); ++i) {
      ASSERT_EQ(m.find(secret.substr(i, 8)), std::string::npos) << m;
    }
    if (text.size() >= 4) {
      EXPECT_EQ(m.find(text), std::string::npos) << m;
    }
  }
}

// Expected values from the FIPS 180-2 examples and from coreutils' sha256sum:
//   printf %s 'k3x9q2.7hd0a9mzq1w8e5r4t6y2u3i0o9p8l7ab' | sha256sum
TEST(BootstrapTokenTest, HashIsSha256OfTheWholeText) {
  EXPECT_EQ(hex(bootstrap_token_hash("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(bootstrap_token_hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(bootstrap_token_hash("k3x9q2.7hd0a9mzq1w8e5r4t6y2u3i0o9p8l7ab")),
            "803288a37d98542927b1151b9b672ff82e3a0fe442d29d0b0e291f1c19bb9e9b");
  // The whole text, not the secret alone.
  EXPECT_NE(bootstrap_token_hash("k3x9q2.7hd0a9mzq1w8e5r4t6y2u3i0o9p8l7ab"),
            bootstrap_token_hash("7hd0a9mzq1w8e5r4t6y2u3i0o9p8l7ab"));
}

TEST(BootstrapTokenTest, NodeNamesAreRfc1123Subdomains) {
  const std::string label63(63, 'a');
  // 253 characters: three labels of 63 and one of 61, joined by dots.
  const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(name253.size(), 253u);
  for (const std::string& good : {std::string("a"), std::string("node-1"), std::string("1node"),
                                  std::string("0"), std::string("worker-1.example.com"),
                                  std::string("a--b"), std::string("a.b.c"), label63, name253}) {
    EXPECT_TRUE(valid_node_name(good)) << good;
  }
  for (const std::string& bad :
       {std::string(""), std::string("Node"), std::string("-a"), std::string("a-"),
        std::string("a..b"), std::string(".a"), std::string("a."), std::string("a_b"),
        std::string("a b"), std::string("a-.b"), std::string("a.-b"), std::string("n\xc3\xa4"),
        std::string("a\nb"), std::string("a/b"), std::string("*.a"), label63 + "a", name253 + "a",
        std::string("a\0b", 3)}) {
    EXPECT_FALSE(valid_node_name(bad)) << hwca::printable(bad);
  }
}

}  // namespace
