// A token in use across fork(), with a module that follows PKCS#11's rule for children:
// SoftHSM2 with library.reset_on_fork, so that in a forked child the module answers
// CKR_CRYPTOKI_NOT_INITIALIZED until the child initialises it, and the sessions and the
// login of the parent are not the child's. Reached through hwca_fault_pkcs11, which counts
// the calls it fails: the child must initialise the module for itself and log in again
// without closing the sessions it inherited (with a module whose sessions live in a server,
// that would close the parent's). A program of its own: SoftHSM2 reads its configuration
// once per process.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>

#include "fork_check.hpp"
#include "recovery_env.hpp"
#include "tokens/registry.hpp"

namespace hwca::test {

SoftHsmToken* g_token = nullptr;
FaultControl* g_faults = nullptr;

namespace {

class ResetOnForkEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_token = new SoftHsmToken("hwca-fork");
    std::ofstream(g_token->dir() + "/softhsm2.conf", std::ios::app)
        << "library.reset_on_fork = true\n";
    use_fault_module();
  }
  void TearDown() override { release_fault_token(); }
};

TEST(Pkcs11Fork, ChildInitialisesTheModuleForItselfAndLeavesTheParentsSessions) {
  std::string uri = make_key("fork-reset", tokens::KeyType::ec_p256);
  auto store = tokens::open_store(uri, open_options());
  ASSERT_TRUE(store) << store.error().message;
  auto signer = (*store)->create_signer(uri);
  ASSERT_TRUE(signer) << signer.error().message;
  // Any C_CloseSession from here on fails and is counted: the parent closes none while it
  // signs, and the child must close none of the sessions it inherited.
  g_faults->set({fail("C_CloseSession", "CKR_GENERAL_ERROR")});
  expect_signs_across_fork(**signer, [] {
    unsigned long closed = FaultControl::injected("C_CloseSession");
    return closed == 0 ? std::string()
                       : "the child called C_CloseSession " + std::to_string(closed) +
                             " times on sessions it inherited from its parent";
  });
  EXPECT_EQ(FaultControl::injected("C_CloseSession"), 0u) << "the parent closed a session";
  g_faults->clear();
}

}  // namespace
}  // namespace hwca::test

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new hwca::test::ResetOnForkEnvironment());
  return RUN_ALL_TESTS();
}
