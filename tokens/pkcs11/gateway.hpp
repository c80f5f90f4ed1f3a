// The one way from hwca into a PKCS#11 module's function list (the TPM side's
// TpmContext::with()). Every C_* call of tokens/pkcs11 goes through Gateway::call: it names
// the function once (HWCA_CK(C_Sign) gives the member and its name, so the compiler checks
// the arguments), bounds the call by a CallWatch (the watch names the function and the
// device: "token 'ca' (serial ...) did not answer C_Sign"), and answers an Rv that maps a
// failure to an Error the one way (rv_error) and says what it means for the token (Fault).
// What to do about a fault (log in again, initialise the module again, try once more) is the
// callers' policy: Token, Module::reinitialize, Pkcs11Signer.
//
// A few sequences are bounded as one call and report one name, as before the gateway
// (C_SignInit + C_Sign under "C_Sign", the C_FindObjects* trio under "C_FindObjects"):
// Gateway::sequence opens one watch and its calls run under it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "tokens/call_watch.hpp"
#include "tokens/pkcs11/pkcs11_api.hpp"

// A function of CK_FUNCTION_LIST and its name, for Gateway::call: HWCA_CK(C_Sign).
#define HWCA_CK(function) &CK_FUNCTION_LIST::function, #function

namespace hwca::tokens::pkcs11 {

// What a failed call says about the token.
enum class Fault {
  none,        // success, or a refusal of this call only
  gone,        // rv_token_gone: the device is gone or broken; worth a reconnection
  login_lost,  // rv_login_lost: the login or the handles it covered are lost; worth a login
};
Fault fault_of(CK_RV rv);

// The answer of one call.
class [[nodiscard]] Rv {
 public:
  explicit Rv(CK_RV rv) : rv_(rv) {}
  CK_RV value() const { return rv_; }
  bool ok() const { return rv_ == CKR_OK; }
  explicit operator bool() const { return ok(); }
  bool operator==(CK_RV rv) const { return rv_ == rv; }
  Fault fault() const { return fault_of(rv_); }
  // "what: CKR_NAME", of the rv's kind (rv_error).
  tl::unexpected<Error> error(const std::string& what) const { return rv_error(what, rv_); }

 private:
  CK_RV rv_;
};

class Gateway {
 public:
  // `device` names what the calls reach, for the watchdog: "token 'ca' (serial 42)",
  // "PKCS#11 module /usr/lib/softhsm/libsofthsm2.so".
  Gateway(CK_FUNCTION_LIST* fn, std::string device) : fn_(fn), device_(std::move(device)) {}

  const std::string& device() const { return device_; }

  // One call, bounded by the call watchdog under its own name.
  template <typename F, typename... A>
  Rv call(F CK_FUNCTION_LIST::*function, const char* name, A&&... args) const {
    CallWatch watch(name, device_);
    return Rv((fn_->*function)(std::forward<A>(args)...));
  }

  // Calls bounded together, under one watch named `name`, for as long as it lives.
  class Sequence {
   public:
    Sequence(CK_FUNCTION_LIST* fn, const char* name, const std::string& device)
        : fn_(fn), watch_(name, device) {}
    // As Gateway::call, under the sequence's watch (the name is the sequence's, not this).
    template <typename F, typename... A>
    Rv call(F CK_FUNCTION_LIST::*function, const char* /*name*/, A&&... args) const {
      return Rv((fn_->*function)(std::forward<A>(args)...));
    }

   private:
    CK_FUNCTION_LIST* fn_;
    CallWatch watch_;
  };
  Sequence sequence(const char* name) const { return Sequence(fn_, name, device_); }

 private:
  CK_FUNCTION_LIST* fn_;
  std::string device_;
};

// The slots that hold a token (C_GetSlotList twice, bounded as one call); `ids` is left
// empty or partial on failure.
Rv slots_with_token(const Gateway& gw, std::vector<CK_SLOT_ID>& ids);

}  // namespace hwca::tokens::pkcs11
