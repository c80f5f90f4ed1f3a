#include "tokens/tpm2/rc.hpp"

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tpm2_types.h>

#include <cstdio>

namespace hwca::tokens::tpm2 {

std::string rc_text(TSS2_RC rc) {
  // Tss2_RC_Decode writes into a buffer of its own: copy it at once.
  std::string text = Tss2_RC_Decode(rc);
  char code[16];
  std::snprintf(code, sizeof code, "0x%08x", static_cast<unsigned>(rc));
  return text + " (" + code + ")";
}

std::optional<TSS2_RC> tpm_rc(TSS2_RC rc) {
  TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
  // A resource manager passes the TPM's codes on in a layer of its own.
  if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER) return std::nullopt;
  TSS2_RC code = rc & ~TSS2_RC_LAYER_MASK;
  // Format-one codes carry the number of the failing handle, session or parameter in their
  // upper bits: keep the error number and the format bit only.
  if (code & TPM2_RC_FMT1) code &= TPM2_RC_FMT1 | 0x3f;
  return code;
}

ErrorKind rc_kind(TSS2_RC rc) {
  switch (tpm_rc(rc).value_or(TPM2_RC_FAILURE)) {
    case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_BAD_AUTH:
    case TPM2_RC_LOCKOUT:
      return ErrorKind::auth;
    default:
      return ErrorKind::device;
  }
}

tl::unexpected<Error> rc_error(const std::string& what, TSS2_RC rc) {
  return fail(rc_kind(rc), what + ": " + rc_text(rc));
}

}  // namespace hwca::tokens::tpm2
