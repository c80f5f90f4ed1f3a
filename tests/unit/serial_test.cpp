// Unit tests for src/ca/serial.hpp: serial numbers are positive, exactly 20 octets in DER,
// random, and round-trip through hex and ASN.1.
#include "ca/serial.hpp"

#include <gtest/gtest.h>

#include <set>

namespace {

using hwca::ca::Serial;

TEST(Serial, RandomSerialsArePositiveTwentyOctetsAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto s = Serial::random();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->octets()[0] & 0x80, 0);
    EXPECT_NE(s->octets()[0], 0);
    auto asn1 = s->to_asn1();
    ASSERT_TRUE(asn1);
    // DER INTEGER content: exactly 20 octets, no 0x00 pad, not negative.
    EXPECT_EQ(ASN1_STRING_length(asn1.get()), 20);
    EXPECT_EQ(ASN1_STRING_type(asn1.get()), V_ASN1_INTEGER);
    unsigned char* der = nullptr;
    int len = i2d_ASN1_INTEGER(asn1.get(), &der);
    EXPECT_EQ(len, 22);  // tag, length, 20 content octets
    OPENSSL_free(der);
    EXPECT_TRUE(seen.insert(s->hex()).second);
  }
}

TEST(Serial, HexRoundTrips) {
  auto s = Serial::random();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->hex().size(), 40u);
  auto back = Serial::from_hex(s->hex());
  ASSERT_TRUE(back);
  EXPECT_TRUE(*back == *s);
  std::string upper = s->hex();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto from_upper = Serial::from_hex(upper);
  ASSERT_TRUE(from_upper);
  EXPECT_TRUE(*from_upper == *s);
}

TEST(Serial, BadHexIsRefused) {
  EXPECT_FALSE(Serial::from_hex(""));
  EXPECT_FALSE(Serial::from_hex(std::string(38, '1')));
  EXPECT_FALSE(Serial::from_hex(std::string(39, '1') + "g"));
  EXPECT_FALSE(Serial::from_hex("80" + std::string(38, '0')));  // negative
  EXPECT_EQ(Serial::from_hex("zz").error().kind, hwca::ErrorKind::usage);
}

}  // namespace
