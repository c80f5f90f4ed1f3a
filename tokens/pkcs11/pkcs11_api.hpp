// The PKCS#11 C API (p11-kit's header), for files inside tokens/pkcs11/ only, and what
// hwca makes of a CK_RV: its name, its error kind, its class (used by the gateway's Fault).
#pragma once

#include <p11-kit/pkcs11.h>

#include <string>

#include "common/result.hpp"

namespace hwca::tokens::pkcs11 {

// "CKR_PIN_INCORRECT" for CKR_PIN_INCORRECT; "CKR_0x..." for codes without a name.
std::string rv_name(CK_RV rv);

// The error kind a return value belongs to (auth for PIN errors, device for the rest...).
ErrorKind rv_kind(CK_RV rv);

// True when `rv` means the token is gone or broken (removed, device error, module reset):
// worth a reconnection (Module::reinitialize).
bool rv_token_gone(CK_RV rv);

// True when `rv` means the login or the handles it covered are lost (not logged in, the
// session closed, an object handle void): worth logging in again (Token::relogin), then a
// reconnection if that fails.
bool rv_login_lost(CK_RV rv);

// "what failed: CKR_NAME" with the kind of rv.
tl::unexpected<Error> rv_error(const std::string& what, CK_RV rv);

// A blank-padded text field of a PKCS#11 structure (CK_TOKEN_INFO's label...), unpadded.
std::string trimmed_field(const unsigned char* field, size_t size);
template <size_t N>
std::string trimmed_field(const unsigned char (&field)[N]) {
  return trimmed_field(field, N);
}

}  // namespace hwca::tokens::pkcs11
