// One token (a slot with a token present) in a loaded module: its identity, its login
// state and its session pool. Shared by every key and signer in the process.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/pin_source.hpp"
#include "tokens/keystore.hpp"
#include "tokens/pkcs11/pkcs11_api.hpp"
#include "tokens/pkcs11/session_pool.hpp"

struct PKCS11_slot_st;

namespace hwca::tokens::pkcs11 {

class Module;

// Where the PIN may come from for one operation, in the order they are tried.
class Token {
 public:
  Token(Module* module, PKCS11_slot_st* slot, CK_SLOT_ID slot_id, TokenInfo info);

  const TokenInfo& info() const { return info_; }
  CK_SLOT_ID slot_id() const { return slot_id_; }
  CK_FUNCTION_LIST* fn() const;
  // "token 'label' (serial S)", for messages.
  const std::string& describe() const { return describe_; }

  // Log in once for the whole process. Checks the token's PIN flags first; a PIN the token
  // rejected is never tried again (the error is kept and returned).
  Status ensure_login(const PinSources& pins);

  // `rv`, when given, receives C_OpenSession's answer if opening a session failed.
  Result<SessionLease> session(CK_RV* rv = nullptr) { return pool_.acquire(call_timeout_ms(), rv); }
  // A read-write session outside the pool (key generation); closed when the lease ends.
  Result<CK_SESSION_HANDLE> open_rw_session();

  void close() { pool_.close_all(); }

  // Recovery after a call failed as if the device were gone (rv_token_gone): the module's
  // generation counts its reinitialisations (object and session handles of an older one
  // are void); recover() reinitialises the module unless another thread did since
  // `seen`, the generation the failed call ran in (see Module::reinitialize).
  uint64_t generation() const;
  bool attached() const;  // Module::attached
  Status recover(uint64_t seen);
  // Called by Module::reinitialize with the use lock held exclusively: forget_sessions()
  // before finalising, reattach() after initialising again (find the slot by label and
  // serial, log in again with the PIN sources of the first login, open the first session).
  void forget_sessions() { pool_.forget(); }
  Status reattach();

 private:
  static std::chrono::milliseconds call_timeout_ms();
  Result<CK_FLAGS> fresh_flags();
  // Whether this process's sessions (hwca's own function list) are logged in as the user.
  Result<bool> sessions_logged_in();

  Module* module_;
  PKCS11_slot_st* slot_;
  CK_SLOT_ID slot_id_;
  TokenInfo info_;
  std::string describe_;
  SessionPool pool_;
  std::mutex login_mu_;
  bool logged_in_ = false;
  std::optional<Error> login_refused_;
  std::optional<PinSources> pins_;  // of the first login, to log in again after recovery
};

// Check a token's flags before a login; pure logic (unit-tested without a device).
Status check_pin_flags(CK_FLAGS flags, const std::string& device);

}  // namespace hwca::tokens::pkcs11
