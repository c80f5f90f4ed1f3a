// CK_RV names, kinds and classes, for messages and the gateway's faults.
#include <cstdio>

#include "tokens/pkcs11/pkcs11_api.hpp"

namespace hwca::tokens::pkcs11 {

std::string rv_name(CK_RV rv) {
  switch (rv) {
#define HWCA_RV(name) \
  case name:          \
    return #name;
    HWCA_RV(CKR_OK)
    HWCA_RV(CKR_CANCEL)
    HWCA_RV(CKR_HOST_MEMORY)
    HWCA_RV(CKR_SLOT_ID_INVALID)
    HWCA_RV(CKR_GENERAL_ERROR)
    HWCA_RV(CKR_FUNCTION_FAILED)
    HWCA_RV(CKR_ARGUMENTS_BAD)
    HWCA_RV(CKR_CANT_LOCK)
    HWCA_RV(CKR_ATTRIBUTE_READ_ONLY)
    HWCA_RV(CKR_ATTRIBUTE_SENSITIVE)
    HWCA_RV(CKR_ATTRIBUTE_TYPE_INVALID)
    HWCA_RV(CKR_ATTRIBUTE_VALUE_INVALID)
    HWCA_RV(CKR_DATA_INVALID)
    HWCA_RV(CKR_DATA_LEN_RANGE)
    HWCA_RV(CKR_DEVICE_ERROR)
    HWCA_RV(CKR_DEVICE_MEMORY)
    HWCA_RV(CKR_DEVICE_REMOVED)
    HWCA_RV(CKR_FUNCTION_CANCELED)
    HWCA_RV(CKR_FUNCTION_NOT_SUPPORTED)
    HWCA_RV(CKR_KEY_HANDLE_INVALID)
    HWCA_RV(CKR_KEY_SIZE_RANGE)
    HWCA_RV(CKR_KEY_TYPE_INCONSISTENT)
    HWCA_RV(CKR_KEY_FUNCTION_NOT_PERMITTED)
    HWCA_RV(CKR_MECHANISM_INVALID)
    HWCA_RV(CKR_MECHANISM_PARAM_INVALID)
    HWCA_RV(CKR_OBJECT_HANDLE_INVALID)
    HWCA_RV(CKR_OPERATION_ACTIVE)
    HWCA_RV(CKR_OPERATION_NOT_INITIALIZED)
    HWCA_RV(CKR_PIN_INCORRECT)
    HWCA_RV(CKR_PIN_INVALID)
    HWCA_RV(CKR_PIN_LEN_RANGE)
    HWCA_RV(CKR_PIN_EXPIRED)
    HWCA_RV(CKR_PIN_LOCKED)
    HWCA_RV(CKR_SESSION_CLOSED)
    HWCA_RV(CKR_SESSION_COUNT)
    HWCA_RV(CKR_SESSION_HANDLE_INVALID)
    HWCA_RV(CKR_SESSION_READ_ONLY)
    HWCA_RV(CKR_SESSION_EXISTS)
    HWCA_RV(CKR_SIGNATURE_INVALID)
    HWCA_RV(CKR_TEMPLATE_INCOMPLETE)
    HWCA_RV(CKR_TEMPLATE_INCONSISTENT)
    HWCA_RV(CKR_TOKEN_NOT_PRESENT)
    HWCA_RV(CKR_TOKEN_NOT_RECOGNIZED)
    HWCA_RV(CKR_TOKEN_WRITE_PROTECTED)
    HWCA_RV(CKR_USER_ALREADY_LOGGED_IN)
    HWCA_RV(CKR_USER_NOT_LOGGED_IN)
    HWCA_RV(CKR_USER_PIN_NOT_INITIALIZED)
    HWCA_RV(CKR_USER_TYPE_INVALID)
    HWCA_RV(CKR_DOMAIN_PARAMS_INVALID)
    HWCA_RV(CKR_CURVE_NOT_SUPPORTED)
    HWCA_RV(CKR_BUFFER_TOO_SMALL)
    HWCA_RV(CKR_CRYPTOKI_NOT_INITIALIZED)
    HWCA_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED)
#undef HWCA_RV
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "CKR_0x%08lx", static_cast<unsigned long>(rv));
      return buf;
    }
  }
}

// CKR_USER_NOT_LOGGED_IN is not a PIN problem: hwca logs in before it touches a private
// object, so a token that says so later lost its login (a reset, another C_Logout): a
// device fault (exit 5, 503 `device`), never "authentication" (exit 4, check the PIN).
ErrorKind rv_kind(CK_RV rv) {
  switch (rv) {
    case CKR_PIN_INCORRECT:
    case CKR_PIN_INVALID:
    case CKR_PIN_LEN_RANGE:
    case CKR_PIN_EXPIRED:
    case CKR_PIN_LOCKED:
    case CKR_USER_PIN_NOT_INITIALIZED:
      return ErrorKind::auth;
    case CKR_SLOT_ID_INVALID:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
      return ErrorKind::not_found;
    case CKR_ARGUMENTS_BAD:
    case CKR_HOST_MEMORY:
      return ErrorKind::internal;
    default:
      return ErrorKind::device;
  }
}

bool rv_token_gone(CK_RV rv) {
  return rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_ERROR ||
         rv == CKR_TOKEN_NOT_RECOGNIZED || rv == CKR_CRYPTOKI_NOT_INITIALIZED ||
         rv == CKR_SLOT_ID_INVALID;
}

bool rv_login_lost(CK_RV rv) {
  return rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_SESSION_HANDLE_INVALID ||
         rv == CKR_SESSION_CLOSED || rv == CKR_OBJECT_HANDLE_INVALID ||
         rv == CKR_KEY_HANDLE_INVALID;
}

tl::unexpected<Error> rv_error(const std::string& what, CK_RV rv) {
  return fail(rv_kind(rv), what + ": " + rv_name(rv));
}

}  // namespace hwca::tokens::pkcs11
