// Unit tests for src/common/text.hpp: user input in messages stays on one printable line.
#include "common/text.hpp"

#include <gtest/gtest.h>

namespace {

TEST(Printable, ControlCharactersAreEscaped) {
  EXPECT_EQ(hwca::printable("a\nb"), "a\\x0ab");
  EXPECT_EQ(hwca::printable("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(hwca::printable(std::string("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(hwca::printable("del\x7f"), "del\\x7f");
  EXPECT_EQ(hwca::printable("tab\tcr\r"), "tab\\x09cr\\x0d");
}

TEST(Printable, OrdinaryTextAndUtf8AreKept) {
  EXPECT_EQ(hwca::printable("token 'ca' (serial 1f)"), "token 'ca' (serial 1f)");
  EXPECT_EQ(hwca::printable("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(hwca::printable(""), "");
}

TEST(Bounded, ShortPrintableTextIsKept) {
  EXPECT_EQ(hwca::bounded("application/json"), "application/json");
  EXPECT_EQ(hwca::bounded(""), "");
  EXPECT_EQ(hwca::bounded(std::string(128, 'a')), std::string(128, 'a'));
}

TEST(Bounded, LongTextIsCutAndSaysHowMuch) {
  const std::string cut = hwca::bounded(std::string(7000, 'a'));
  EXPECT_EQ(cut, std::string(128, 'a') + "...[6872 more bytes]");
  EXPECT_EQ(hwca::bounded("abcdefgh", 3), "abc...[5 more bytes]");
  EXPECT_LE(hwca::bounded(std::string(1 << 20, 'x'), 64).size(), 64u + 24u);
}

TEST(Bounded, OnlyPrintableAsciiIsLeft) {
  // Control characters, DEL and every non-ASCII byte (so the result is valid UTF-8 whatever
  // came in, for the JSON of the audit log).
  EXPECT_EQ(hwca::bounded("a\nb\x7f"), "a\\x0ab\\x7f");
  EXPECT_EQ(hwca::bounded("caf\xc3\xa9"), "caf\\xc3\\xa9");
  EXPECT_EQ(hwca::bounded("\xff\xfe"), "\\xff\\xfe");
  for (unsigned char c : hwca::bounded(std::string("\x01\x80\x1b[0m\xf0\x9f\x98\x80")))
    EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(c);
}

TEST(Bounded, AnEscapeIsNeverSplitByTheCut) {
  // 3 plain characters, then an escape that would pass the bound of 5: cut before it.
  EXPECT_EQ(hwca::bounded("abc\x01", 5), "abc...[1 more bytes]");
  EXPECT_EQ(hwca::bounded("\x01\x02", 4), "\\x01...[1 more bytes]");
}

TEST(Join, PutsTheSeparatorBetweenItemsOnly) {
  EXPECT_EQ(hwca::join({}), "");
  EXPECT_EQ(hwca::join({"a"}), "a");
  EXPECT_EQ(hwca::join({"a", "", "c"}), "a, , c");
  EXPECT_EQ(hwca::join({"10.0.0.5", "fd00::5"}, ","), "10.0.0.5,fd00::5");
}

}  // namespace

TEST(InvalidUtf8At, WellFormedTextIsAccepted) {
  constexpr auto npos = std::string_view::npos;
  EXPECT_EQ(hwca::invalid_utf8_at(""), npos);
  EXPECT_EQ(hwca::invalid_utf8_at("plain\r\n"), npos);
  EXPECT_EQ(hwca::invalid_utf8_at(std::string_view("a\0b", 3)), npos);
  EXPECT_EQ(hwca::invalid_utf8_at("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), npos);
  EXPECT_EQ(hwca::invalid_utf8_at("\xed\x9f\xbf \xee\x80\x80 \xf4\x8f\xbf\xbf"), npos);  // edges
}

TEST(InvalidUtf8At, NamesTheFirstBadSequence) {
  EXPECT_EQ(hwca::invalid_utf8_at("c\xb6 t"), 1u);           // a lone continuation byte
  EXPECT_EQ(hwca::invalid_utf8_at("ab\xc3"), 2u);            // cut short
  EXPECT_EQ(hwca::invalid_utf8_at("\xc3\x28"), 0u);          // a bad continuation
  EXPECT_EQ(hwca::invalid_utf8_at("a\xc0\xaf"), 1u);         // overlong '/'
  EXPECT_EQ(hwca::invalid_utf8_at("\xe0\x80\xaf"), 0u);      // overlong, 3 bytes
  EXPECT_EQ(hwca::invalid_utf8_at("\xf0\x80\x80\xaf"), 0u);  // overlong, 4 bytes
  EXPECT_EQ(hwca::invalid_utf8_at("x\xed\xa0\x80"), 1u);     // a surrogate (U+D800)
  EXPECT_EQ(hwca::invalid_utf8_at("\xf4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(hwca::invalid_utf8_at("\xf5\x80\x80\x80"), 0u);  // never a lead byte
  EXPECT_EQ(hwca::invalid_utf8_at("\xe2\x82\xac\xff"), 3u);  // after a good one
}
