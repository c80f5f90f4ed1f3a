// A token in use across fork(), with a module that keeps the parent's state in the child
// (SoftHSM2 as configured by default): the child signs with the Signer it inherited, and
// the parent goes on signing (fork_check.hpp). Part of hwca_integration_tests; the module
// that follows PKCS#11's rule for children is in fork_reset_test.cpp.
#include <gtest/gtest.h>

#include "fork_check.hpp"
#include "integration_env.hpp"
#include "tokens/registry.hpp"

namespace hwca::test {
namespace {

TEST(Pkcs11Fork, ChildSignsWithTheParentsOpenToken) {
  std::string uri = make_key("fork-plain", tokens::KeyType::ec_p256);
  auto store = tokens::open_store(uri, open_options());
  ASSERT_TRUE(store) << store.error().message;
  auto signer = (*store)->create_signer(uri);
  ASSERT_TRUE(signer) << signer.error().message;
  expect_signs_across_fork(**signer);
}

}  // namespace
}  // namespace hwca::test
