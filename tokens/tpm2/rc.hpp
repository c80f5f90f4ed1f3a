// tpm2-tss return codes in hwca's errors.
#pragma once

#include <tss2/tss2_common.h>

#include <optional>
#include <string>

#include "common/result.hpp"

namespace hwca::tokens::tpm2 {

// Tss2_RC_Decode's text and the code: "tpm:handle(1):the handle is not correct for the
// use (0x0000018b)".
std::string rc_text(TSS2_RC rc);

// The TPM's response code without its layer and without the handle, session or parameter
// number of a format-one code (TPM2_RC_HANDLE for 0x18b); nullopt when rc did not come from
// a TPM (a TCTI, ESYS or resource-manager failure).
std::optional<TSS2_RC> tpm_rc(TSS2_RC rc);

// The error kind of a code: auth for a wrong or locked-out authorisation value, device for
// the rest (the TPM refused, failed or could not be reached).
ErrorKind rc_kind(TSS2_RC rc);

// "what: rc_text(rc)" with the kind of rc.
tl::unexpected<Error> rc_error(const std::string& what, TSS2_RC rc);

}  // namespace hwca::tokens::tpm2
