// One SoftHSM2 token for the whole program (SoftHSM reads its configuration once per
// process); each test makes the keys it needs with labels of its own.
#include <gtest/gtest.h>

#include <csignal>

#include "integration_env.hpp"
#include "tokens/registry.hpp"

namespace hwca::test {

SoftHsmToken* g_token = nullptr;

class TokenEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { g_token = new SoftHsmToken("hwca-it"); }
  void TearDown() override {
    tokens::shutdown_all();
    delete g_token;
    g_token = nullptr;
  }
};

tokens::OpenOptions open_options() {
  tokens::OpenOptions o;
  o.pin_source = g_token->pin_source();
  return o;
}

ca::KeyLoadOptions key_options() {
  ca::KeyLoadOptions o;
  o.pin_source = g_token->pin_source();
  return o;
}

std::string make_key(const std::string& label, tokens::KeyType type) {
  std::string uri = g_token->key_uri(label);
  auto store = tokens::open_store(uri, open_options());
  if (!store) throw std::runtime_error(store.error().message);
  auto info = (*store)->create_key({uri, type});
  if (!info) throw std::runtime_error(info.error().message);
  return uri;
}

}  // namespace hwca::test

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // as the hwca command does: see token_fault_test.cpp
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new hwca::test::TokenEnvironment());
  return RUN_ALL_TESTS();
}
