// Unit tests for the pure parts of src/ca/revocation.hpp: CRLReason names and numbers in both
// directions, refused reasons, and serials as users type them.
#include "ca/revocation.hpp"

#include <gtest/gtest.h>

namespace {

using hwca::ErrorKind;
using hwca::ca::crl_reason_name;
using hwca::ca::normalise_serial;
using hwca::ca::parse_crl_reason;

const std::pair<const char*, int> kReasons[] = {
    {"unspecified", 0},        {"keyCompromise", 1},      {"cACompromise", 2},
    {"affiliationChanged", 3}, {"superseded", 4},         {"cessationOfOperation", 5},
    {"certificateHold", 6},    {"privilegeWithdrawn", 9}, {"aACompromise", 10},
};

TEST(RevocationReason, NamesAndNumbersRoundTrip) {
  for (const auto& [name, code] : kReasons) {
    auto by_name = parse_crl_reason(name);
    ASSERT_TRUE(by_name) << name << ": " << by_name.error().message;
    EXPECT_EQ(*by_name, code) << name;
    auto by_number = parse_crl_reason(std::to_string(code));
    ASSERT_TRUE(by_number) << code << ": " << by_number.error().message;
    EXPECT_EQ(*by_number, code);
    EXPECT_EQ(crl_reason_name(code), name);
  }
}

TEST(RevocationReason, NamesIgnoreCase) {
  EXPECT_EQ(*parse_crl_reason("KEYCOMPROMISE"), 1);
  EXPECT_EQ(*parse_crl_reason("keycompromise"), 1);
  EXPECT_EQ(*parse_crl_reason("CaCompromise"), 2);
  EXPECT_EQ(*parse_crl_reason("AACOMPROMISE"), 10);
}

TEST(RevocationReason, RefusedReasonsListTheValidNames) {
  for (const char* bad : {"7", "11", "99", "-1", "", "key-compromise", "compromised", " 1", "1 ",
                          "01x", "unspecified\n"}) {
    auto r = parse_crl_reason(bad);
    ASSERT_FALSE(r) << "'" << bad << "' was accepted as " << *r;
    EXPECT_EQ(r.error().kind, ErrorKind::usage);
    for (const auto& [name, code] : kReasons) {
      EXPECT_NE(r.error().message.find(name), std::string::npos) << r.error().message;
    }
    EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
  }
}

TEST(RevocationReason, RemoveFromCrlIsOnlyForDeltaCrls) {
  for (const char* text : {"removeFromCRL", "REMOVEFROMCRL", "8"}) {
    auto r = parse_crl_reason(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().kind, ErrorKind::usage);
    EXPECT_NE(r.error().message.find("delta CRLs"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("keyCompromise"), std::string::npos) << r.error().message;
  }
  EXPECT_EQ(crl_reason_name(8), "removeFromCRL");  // a name still, for what others wrote
}

TEST(RevocationReason, CodesWithoutANameSaySo) {
  EXPECT_EQ(crl_reason_name(7), "reason 7");
  EXPECT_EQ(crl_reason_name(11), "reason 11");
  EXPECT_EQ(crl_reason_name(-1), "reason -1");
}

TEST(RevocationSerial, TypedFormsBecomeTheStoredForm) {
  const std::pair<const char*, const char*> cases[] = {
      {"3a7f01", "3a7f01"},
      {"3A7F01", "3a7f01"},
      {"3A:7F:01", "3a7f01"},
      {"0x3a7f01", "3a7f01"},
      {"0X3A:7F:01", "3a7f01"},
      {"a7f01", "0a7f01"},  // whole octets
      {"80", "0080"},       // positive: a zero octet before a set first bit
      {"ff:01", "00ff01"},
      {"00:01", "01"},  // no redundant leading zero octets
      {"0000ab", "00ab"},
      {"0", "00"},
      {"4e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b", "4e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b"},
  };
  for (const auto& [typed, stored] : cases) {
    auto s = normalise_serial(typed);
    ASSERT_TRUE(s) << typed << ": " << s.error().message;
    EXPECT_EQ(*s, stored) << typed;
  }
}

TEST(RevocationSerial, BadSerialsAreUsageErrors) {
  for (const char* bad : {"", "0x", "xyz", "3a:7g", ":3a", "3a:", "3a::7f", "3a 7f", "-01", "3a\n",
                          "8000000000000000000000000000000000000000" /* 21 octets */}) {
    auto s = normalise_serial(bad);
    ASSERT_FALSE(s) << "'" << bad << "' became " << *s;
    EXPECT_EQ(s.error().kind, ErrorKind::usage);
    EXPECT_EQ(s.error().message.find('\n'), std::string::npos) << s.error().message;
  }
}

}  // namespace
