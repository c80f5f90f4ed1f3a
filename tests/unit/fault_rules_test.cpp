// The control file of the fault-injecting PKCS#11 module (tests/support/fault_pkcs11): what
// FaultControl writes is what the module reads, and a bad line is reported, not guessed at.
#include "support/fault_pkcs11/fault_rules.hpp"

#include <gtest/gtest.h>

#include "support/fault_pkcs11/fault_control.hpp"

namespace hwca::test::fault {
namespace {

TEST(FaultRules, ReadsWhatFaultControlWrites) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764970002250));
  const std::string text = fail("C_Sign", "CKR_DEVICE_ERROR").ending(t).line() + "\n" +
                           delay("C_Login", 700).times(2).line() + "\n" + find_nothing().line() +
                           "\n" + logout().line() + "   # a comment\n\n" +
                           close_sessions().starting(t).ending(t).line() + "\n" +
                           fail("C_Sign", "CKR_DEVICE_ERROR").skipping(3).line() + "\n";
  Parsed p = parse_rules(text);
  ASSERT_TRUE(p.errors.empty()) << p.errors.front();
  ASSERT_EQ(p.rules.size(), 6u);
  EXPECT_EQ(p.rules[0].function, "C_Sign");
  EXPECT_EQ(p.rules[0].action, Action::fail);
  EXPECT_EQ(p.rules[0].rv, CKR_DEVICE_ERROR);
  EXPECT_DOUBLE_EQ(p.rules[0].until, 1764970002.25);
  EXPECT_EQ(p.rules[0].count, -1);
  EXPECT_EQ(p.rules[1].action, Action::delay);
  EXPECT_EQ(p.rules[1].delay_ms, 700);
  EXPECT_EQ(p.rules[1].count, 2);
  EXPECT_EQ(p.rules[2].function, "C_FindObjects");
  EXPECT_EQ(p.rules[2].action, Action::empty);
  EXPECT_EQ(p.rules[3].action, Action::logout);
  EXPECT_EQ(p.rules[3].count, 1) << "a disturbance without a window happens once";
  EXPECT_EQ(p.rules[4].action, Action::close_sessions);
  EXPECT_EQ(p.rules[4].count, -1) << "with a window it happens at every call in it";
  EXPECT_DOUBLE_EQ(p.rules[4].from, 1764970002.25);
  EXPECT_EQ(p.rules[4].after, 0);
  EXPECT_EQ(p.rules[5].after, 3);
}

TEST(FaultRules, WindowsAndCountsDecideWhenARuleApplies) {
  Parsed p = parse_rules("* 0x30 from=100 until=200 count=2\n");
  ASSERT_EQ(p.rules.size(), 1u);
  Rule& r = p.rules[0];
  EXPECT_TRUE(r.applies_to("C_OpenSession"));
  EXPECT_EQ(r.rv, CKR_DEVICE_ERROR);
  EXPECT_FALSE(r.active(99.9));
  EXPECT_TRUE(r.active(100));
  EXPECT_FALSE(r.active(200));
  EXPECT_TRUE(r.take());
  EXPECT_TRUE(r.take());
  EXPECT_FALSE(r.take());
}

TEST(FaultRules, AfterLetsTheFirstMatchingCallsThrough) {
  Parsed p = parse_rules("C_Sign CKR_DEVICE_ERROR after=2 count=1\n");
  ASSERT_TRUE(p.errors.empty()) << p.errors.front();
  Rule& r = p.rules[0];
  EXPECT_FALSE(r.past_after());
  EXPECT_FALSE(r.past_after());
  EXPECT_TRUE(r.past_after()) << "the third call is the first the rule acts on";
  EXPECT_TRUE(r.take());
  EXPECT_TRUE(r.past_after());
  EXPECT_FALSE(r.take()) << "count= still bounds it";
  EXPECT_FALSE(parse_rules("C_Sign CKR_DEVICE_ERROR after=-1\n").errors.empty());
}

TEST(FaultRules, BadLinesAreReportedWithTheirNumberAndSkipped) {
  Parsed p = parse_rules(
      "C_Sign CKR_DEVICE_ERROR\n"
      "C_Frobnicate CKR_DEVICE_ERROR\n"
      "C_Sign CKR_NO_SUCH_CODE\n"
      "C_Sign delay=soon\n"
      "C_Login empty\n"
      "C_Sign CKR_GENERAL_ERROR until=yesterday\n"
      "C_Sign CKR_GENERAL_ERROR when=now\n"
      "C_Sign\n");
  EXPECT_EQ(p.rules.size(), 1u);
  ASSERT_EQ(p.errors.size(), 7u);
  EXPECT_EQ(p.errors[0].rfind("line 2: ", 0), 0u) << p.errors[0];
  EXPECT_NE(p.errors[0].find("C_Frobnicate"), std::string::npos) << p.errors[0];
  EXPECT_EQ(p.errors[6].rfind("line 8: ", 0), 0u) << p.errors[6];
}

}  // namespace
}  // namespace hwca::test::fault
