// The PIN prompt path of the CA core: with no PIN source, CryptoContext asks its prompt
// callback through OpenSSL's UI -> the provider's passphrase callback -> the token login.
// Each test starts from a fresh module (no login held) by shutting the token layer down.
#include <gtest/gtest.h>

#include "ca/crypto_context.hpp"
#include "integration_env.hpp"
#include "tokens/registry.hpp"

namespace hwca::test {
namespace {

class PinPrompt : public ::testing::Test {
 protected:
  void SetUp() override {
    uri_ = make_key(
        std::string("prompt-") + ::testing::UnitTest::GetInstance()->current_test_info()->name(),
        tokens::KeyType::ec_p256);
    tokens::shutdown_all();  // log out: the next load must ask for the PIN
    auto ctx = ca::CryptoContext::create();
    ASSERT_TRUE(ctx);
    ctx_ = std::move(*ctx);
  }
  void TearDown() override { tokens::shutdown_all(); }

  tokens::OpenOptions prompting(const std::string& pin) {
    tokens::OpenOptions o;
    o.pin_prompt = [this, pin](const std::string& prompt) -> Result<SecureString> {
      ++asked_;
      last_prompt_ = prompt;
      return SecureString(pin);
    };
    return o;
  }

  std::string uri_;
  std::unique_ptr<ca::CryptoContext> ctx_;
  int asked_ = 0;
  std::string last_prompt_;
};

TEST_F(PinPrompt, AsksOnceAndLogsInForTheWholeProcess) {
  auto key = ctx_->load_private_key(uri_, prompting(g_token->pin()));
  ASSERT_TRUE(key) << key.error().message;
  EXPECT_EQ(asked_, 1);
  EXPECT_NE(last_prompt_.find("token '" + g_token->label() + "'"), std::string::npos)
      << last_prompt_;
  auto again = ctx_->load_private_key(uri_, prompting(g_token->pin()));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(asked_, 1);  // already logged in
}

TEST_F(PinPrompt, AWrongPinIsTriedOnceAndNeverAgain) {
  auto key = ctx_->load_private_key(uri_, prompting("not-the-pin"));
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().kind, ErrorKind::auth) << key.error().message;
  EXPECT_NE(key.error().message.find("rejected the PIN"), std::string::npos) << key.error().message;
  EXPECT_EQ(key.error().message.find("not-the-pin"), std::string::npos);
  EXPECT_EQ(asked_, 1);
  // Even offered the right PIN now, the same process does not try the token again.
  auto again = ctx_->load_private_key(uri_, prompting(g_token->pin()));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::auth);
  EXPECT_EQ(asked_, 1);
}

TEST_F(PinPrompt, NoPinAndNoPromptSaysHowToGiveOne) {
  auto key = ctx_->load_private_key(uri_, {});
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().kind, ErrorKind::auth) << key.error().message;
  EXPECT_NE(key.error().message.find("--pin-source"), std::string::npos) << key.error().message;
}

}  // namespace
}  // namespace hwca::test
