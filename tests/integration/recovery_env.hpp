// The token recovery tests (hwca_token_recovery_tests): the program's SoftHSM2 token is
// reached only through the fault-injecting module (tests/support/fault_pkcs11), whose
// control file g_faults writes. A second token, never used before its test, is for the
// first login.
#pragma once

#include "integration_env.hpp"
#include "support/fault_pkcs11/fault_control.hpp"

namespace hwca::test {

extern FaultControl* g_faults;

// Every store this process opens goes through the fault module, around g_token's SoftHSM2,
// with g_faults as its control (a program's global test environment sets this up once).
void use_fault_module();
// The faults cleared, the tokens closed, g_faults and g_token deleted.
void release_fault_token();

// A token of the same SoftHSM2 instance that nothing logs in to before its test.
constexpr const char* kFreshToken = "hwca-rec-fresh";

}  // namespace hwca::test
