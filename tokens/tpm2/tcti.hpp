// Which TCTI (tpm2-tss's transport to a TPM: the kernel's resource manager, tabrmd, swtpm,
// ...) hwca talks through, and loading it. The TCTI never comes from a key URI: a key file
// stays valid whichever way the TPM is reached.
#pragma once

#include <tss2/tss2_tcti.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace hwca::tokens::tpm2 {

// The kernel's resource manager: it flushes what a crashed process left loaded.
inline constexpr const char* kDefaultTcti = "device:/dev/tpmrm0";
inline constexpr const char* kTctiEnv = "HWCA_TCTI";

struct TctiChoice {
  std::string tcti;    // "NAME[:CONFIG]", as Tss2_TctiLdr_Initialize takes it
  std::string source;  // "--tcti", "HWCA_TCTI" or "default": said in errors
};

// `option` (--tcti) if not empty, else `env` (the value of HWCA_TCTI, may be null) if not
// empty, else kDefaultTcti.
TctiChoice choose_tcti(std::string_view option, const char* env);

// choose_tcti with HWCA_TCTI read from the environment.
TctiChoice resolve_tcti(std::string_view option);

// The shape "NAME[:CONFIG]": NAME not empty, of letters, digits and "-_./" (tpm2-tss also
// takes a library path); no spaces or control characters anywhere. tpm2-tss would take an
// empty NAME as "try every TCTI it knows", which could reach another TPM than meant.
Status check_tcti(const TctiChoice& choice);

// A loaded TCTI, finalised (connection closed, library unloaded) when dropped.
struct TctiDeleter {
  void operator()(TSS2_TCTI_CONTEXT* tcti) const;
};
using TctiPtr = std::unique_ptr<TSS2_TCTI_CONTEXT, TctiDeleter>;

// Check and load the TCTI with Tss2_TctiLdr_Initialize. Errors name the TCTI and where it
// came from: usage for a malformed one, not_found when tpm2-tss has no such TCTI, device
// when the TPM cannot be reached.
Result<TctiPtr> load_tcti(const TctiChoice& choice);

// "'swtpm:port=2321' (from HWCA_TCTI)", for messages; control characters escaped.
std::string describe(const TctiChoice& choice);

}  // namespace hwca::tokens::tpm2
