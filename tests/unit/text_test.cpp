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

}  // namespace
