// Base64 against RFC 4648's test vectors (section 10), and what decoding refuses.
#include "common/base64.hpp"

#include <gtest/gtest.h>

namespace hwca {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},          {"f", "Zg=="},         {"fo", "Zm8="},       {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    auto back = base64_decode(encoded);
    ASSERT_TRUE(back) << encoded;
    EXPECT_EQ(*back, plain);
  }
}

TEST(Base64, BinaryRoundTripsAndLineBreaksAreIgnored) {
  std::string data;
  for (int i = 0; i < 256; ++i) data.push_back(static_cast<char>(i));
  std::string text = base64_encode(data);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  std::string wrapped;
  for (size_t i = 0; i < text.size(); i += 64) wrapped += text.substr(i, 64) + "\r\n";
  auto back = base64_decode(wrapped);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, data);
}

TEST(Base64, RefusesWhatIsNotBase64) {
  EXPECT_FALSE(base64_decode("Zm9"));        // not a multiple of four
  EXPECT_FALSE(base64_decode("Zm9v!A=="));   // outside the alphabet
  EXPECT_FALSE(base64_decode("Zg==Zm9v"));   // padding in the middle
  EXPECT_FALSE(base64_decode("Z==="));       // too much padding
}

}  // namespace
}  // namespace hwca
