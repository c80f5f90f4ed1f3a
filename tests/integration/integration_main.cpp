// One SoftHSM2 token for the whole program (SoftHSM reads its configuration once per
// process); each test makes the keys it needs with labels of its own (integration_env.cpp).
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

}  // namespace hwca::test

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // as the hwca command does: see token_fault_test.cpp
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new hwca::test::TokenEnvironment());
  return RUN_ALL_TESTS();
}
