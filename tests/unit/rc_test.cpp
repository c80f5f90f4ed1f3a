// Unit tests for tokens/tpm2/rc.hpp: tpm2-tss return codes in hwca's errors.
#include "tokens/tpm2/rc.hpp"

#include <gtest/gtest.h>
#include <tss2/tss2_tpm2_types.h>

#include <string>

namespace {

using hwca::ErrorKind;
using hwca::tokens::tpm2::rc_error;
using hwca::tokens::tpm2::rc_kind;
using hwca::tokens::tpm2::rc_text;
using hwca::tokens::tpm2::tpm_rc;

TEST(TpmRc, TextIsDecodedAndKeepsTheCode) {
  std::string t = rc_text(TSS2_TCTI_RC_IO_ERROR);
  EXPECT_EQ(t, "tcti:IO failure (0x000a000a)");
  EXPECT_NE(rc_text(0x18b).find("(0x0000018b)"), std::string::npos);
}

TEST(TpmRc, FormatOneCodesLoseTheirHandleNumber) {
  EXPECT_EQ(tpm_rc(0x18b), TPM2_RC_HANDLE);                             // handle 1
  EXPECT_EQ(tpm_rc(0x9a2), TPM2_RC_BAD_AUTH);                           // session 1
  EXPECT_EQ(tpm_rc(TSS2_RESMGR_TPM_RC_LAYER | 0x18b), TPM2_RC_HANDLE);  // via an RM
  EXPECT_EQ(tpm_rc(TPM2_RC_INITIALIZE), TPM2_RC_INITIALIZE);
  EXPECT_EQ(tpm_rc(TPM2_RC_OBJECT_MEMORY), TPM2_RC_OBJECT_MEMORY);  // a warning
  EXPECT_FALSE(tpm_rc(TSS2_TCTI_RC_IO_ERROR));
  EXPECT_FALSE(tpm_rc(TSS2_ESYS_RC_BAD_REFERENCE));
}

TEST(TpmRc, AuthorisationFailuresAreAuthErrorsTheRestDeviceErrors) {
  EXPECT_EQ(rc_kind(0x9a2), ErrorKind::auth);  // TPM_RC_BAD_AUTH, session 1
  EXPECT_EQ(rc_kind(0x98e), ErrorKind::auth);  // TPM_RC_AUTH_FAIL, session 1
  EXPECT_EQ(rc_kind(TPM2_RC_LOCKOUT), ErrorKind::auth);
  EXPECT_EQ(rc_kind(TPM2_RC_OBJECT_MEMORY), ErrorKind::device);
  EXPECT_EQ(rc_kind(TSS2_TCTI_RC_IO_ERROR), ErrorKind::device);
  // A TCTI's code that happens to share the low bits of BAD_AUTH is no authorisation error.
  EXPECT_EQ(rc_kind(TSS2_TCTI_RC_LAYER | 0x9a2), ErrorKind::device);
}

TEST(TpmRc, ErrorSaysWhatFailed) {
  auto e = rc_error("TPM 'x': creating the SRK", TSS2_TCTI_RC_IO_ERROR);
  EXPECT_EQ(e.value().message, "TPM 'x': creating the SRK: tcti:IO failure (0x000a000a)");
  EXPECT_EQ(e.value().kind, ErrorKind::device);
}

}  // namespace
