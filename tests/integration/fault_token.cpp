// The fault module around the program's SoftHSM2 token (recovery_env.hpp), for the programs
// whose every store goes through it (hwca_token_recovery_tests, hwca_fork_tests).
#include <cstdlib>

#include "recovery_env.hpp"
#include "tokens/registry.hpp"

namespace hwca::test {

void use_fault_module() {
  g_faults = new FaultControl(g_token->dir() + "/faults");
  g_faults->export_environment();
  ::setenv("HWCA_PKCS11_MODULE", FaultControl::module_path().c_str(), 1);
}

void release_fault_token() {
  g_faults->clear();
  tokens::shutdown_all();
  delete g_faults;
  g_faults = nullptr;
  delete g_token;
  g_token = nullptr;
}

}  // namespace hwca::test
