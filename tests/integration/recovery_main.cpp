// One SoftHSM2 instance for the whole program, reached through hwca_fault_pkcs11: every
// store the tests open (HWCA_PKCS11_MODULE) and the CA and TLS keys of the EST server go
// through the fault module, so that a test can fail or disturb the calls of its choice.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>

#include "recovery_env.hpp"
#include "tokens/registry.hpp"

namespace hwca::test {

SoftHsmToken* g_token = nullptr;
FaultControl* g_faults = nullptr;

class FaultTokenEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_token = new SoftHsmToken("hwca-rec");
    // SoftHSM2 reads its tokens when it is initialised: the second one is made now.
    ASSERT_EQ(
        run("softhsm2-util --init-token --free --label " + std::string(kFreshToken) + " --pin '" +
            g_token->pin() + "' --so-pin 'so-" + g_token->pin() + "' > /dev/null"),
        0);
    use_fault_module();
  }
  void TearDown() override { release_fault_token(); }
};

}  // namespace hwca::test

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // as the hwca command does: see token_fault_test.cpp
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new hwca::test::FaultTokenEnvironment());
  return RUN_ALL_TESTS();
}
