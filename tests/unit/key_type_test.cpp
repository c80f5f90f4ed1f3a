// Unit tests for the key type names of tokens/keystore.hpp (parse_key_type, key_type_name,
// key_bits, is_rsa), implemented in tokens/key_type.cpp.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "tokens/keystore.hpp"

namespace {

using hwca::ErrorKind;
using hwca::tokens::KeyType;

struct Expected {
  const char* name;
  KeyType type;
  int bits;
  bool rsa;
};

const Expected kTypes[] = {
    {"ec-p256", KeyType::ec_p256, 256, false},   {"ec-p384", KeyType::ec_p384, 384, false},
    {"rsa-2048", KeyType::rsa_2048, 2048, true}, {"rsa-3072", KeyType::rsa_3072, 3072, true},
    {"rsa-4096", KeyType::rsa_4096, 4096, true},
};

TEST(KeyType, ParseGivesTheExpectedType) {
  for (const Expected& e : kTypes) {
    auto t = hwca::tokens::parse_key_type(e.name);
    ASSERT_TRUE(t.has_value()) << e.name << ": " << t.error().message;
    EXPECT_EQ(*t, e.type) << e.name;
  }
}

TEST(KeyType, NameBitsAndFamily) {
  for (const Expected& e : kTypes) {
    EXPECT_STREQ(hwca::tokens::key_type_name(e.type), e.name);
    EXPECT_EQ(hwca::tokens::key_bits(e.type), e.bits) << e.name;
    EXPECT_EQ(hwca::tokens::is_rsa(e.type), e.rsa) << e.name;
  }
}

TEST(KeyType, NameParsesBackToTheSameType) {
  for (const Expected& e : kTypes) {
    auto t = hwca::tokens::parse_key_type(hwca::tokens::key_type_name(e.type));
    ASSERT_TRUE(t.has_value()) << e.name;
    EXPECT_EQ(*t, e.type);
  }
}

TEST(KeyType, UnknownNamesAreUsageErrors) {
  for (const char* name :
       {"ec-p521", "rsa-1024", "", "rsa", "ec", "ec-p256x", "ed25519", "p256", "rsa-8192"}) {
    auto t = hwca::tokens::parse_key_type(name);
    ASSERT_FALSE(t.has_value()) << "accepted '" << name << "'";
    EXPECT_EQ(t.error().kind, ErrorKind::usage) << name;
    EXPECT_FALSE(t.error().message.empty());
  }
}

TEST(KeyType, NameWithEmbeddedNulIsRefused) {
  auto t = hwca::tokens::parse_key_type(std::string_view("ec-p256\0x", 9));
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().kind, ErrorKind::usage);
}

TEST(KeyType, ErrorNamesTheRefusedType) {
  auto t = hwca::tokens::parse_key_type("ec-p521");
  ASSERT_FALSE(t.has_value());
  EXPECT_NE(t.error().message.find("ec-p521"), std::string::npos) << t.error().message;
}

}  // namespace
