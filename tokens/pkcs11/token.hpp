// One token (a slot with a token present) in a loaded module: its identity, its login
// state and its session pool. Shared by every key and signer in the process.
//
// The login is held by an anchor session of the token's own, which the pool never lends:
// PKCS#11 logs a token out when the application's last session closes, and the pool closes
// any session whose call failed. A login lost anyway (a device that reset, another
// application's C_Logout) is noticed by the callers (rv_login_lost, a key the token had not
// found) and restored by relogin(); when that fails they reconnect (recover()). Every call
// to the token goes through its gateway (gateway.hpp), named after the token; the first
// entry into a token in a forked child makes the module this process's own first
// (Module::ensure_this_process).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/pin_source.hpp"
#include "common/secure_string.hpp"
#include "tokens/keystore.hpp"
#include "tokens/pkcs11/gateway.hpp"
#include "tokens/pkcs11/pkcs11_api.hpp"
#include "tokens/pkcs11/session_pool.hpp"

namespace hwca::tokens::pkcs11 {

class Module;

class Token {
 public:
  Token(Module* module, CK_SLOT_ID slot_id, TokenInfo info);

  const TokenInfo& info() const { return info_; }
  CK_SLOT_ID slot_id() const { return slot_id_; }
  // "token 'label' (serial S)", for messages.
  const std::string& describe() const { return describe_; }
  // The way to the token's module, its calls named after the token.
  const Gateway& gateway() const { return gw_; }

  // Log in once for the whole process (direct C_Login on the anchor session). Checks the
  // token's PIN flags first; a PIN the token rejected is never tried again (the error is
  // kept and returned), while a device error is (the next call tries again). Once logged
  // in, each call checks that the anchor still holds the login and logs in again if not.
  Status ensure_login(const PinSources& pins);

  // Counts the logins (first, again, after a reconnection): private object handles found
  // in an older epoch may be void (SoftHSM2 voids them at logout).
  uint64_t login_epoch() const { return login_epoch_.load(); }
  // After a call failed as if the login were lost (rv_login_lost, or a key the token had
  // was not found), in login epoch `seen`: true if the token is logged in again (by this
  // call, which also closes the idle pooled sessions, or by another thread since `seen`);
  // false if the anchor held the login all along (the fault is elsewhere: reconnect);
  // an error, of kind device (auth for a PIN the token now rejects), if logging in again
  // failed. Call it holding no session lease.
  Result<bool> relogin(uint64_t seen);

  // `rv`, when given, receives C_OpenSession's answer if opening a session failed.
  Result<SessionLease> session(CK_RV* rv = nullptr);
  // A read-write session outside the pool (key generation); closed when the lease ends.
  Result<CK_SESSION_HANDLE> open_rw_session();

  // At shutdown (nothing else uses the token): the pool's sessions, then the anchor.
  void close() {
    pool_.close_all();
    close_anchor();
  }

  // Recovery after a call failed as if the device were gone (rv_token_gone): the module's
  // generation counts its reinitialisations (object and session handles of an older one
  // are void); recover() reinitialises the module unless another thread did since
  // `seen`, the generation the failed call ran in (see Module::reinitialize).
  uint64_t generation() const;
  bool attached() const;  // Module::attached
  Status recover(uint64_t seen);
  // Called by Module::reinitialize with the use lock held exclusively: forget_sessions()
  // before finalising, reattach() after initialising again (find the slot by label and
  // serial, open a new anchor and log in on it with the PIN sources of the first login).
  void forget_sessions();
  Status reattach();
  // Called by Module::ensure_this_process in a forked child, with the use lock held
  // exclusively, before reattach(): the pool's sessions and the anchor are the parent's,
  // forgotten without closing them.
  void abandon_sessions();

 private:
  static std::chrono::milliseconds call_timeout_ms();
  Result<CK_FLAGS> fresh_flags();
  // The anchor, with login_mu_ and the use lock (shared) held, or the use lock exclusively.
  Status open_anchor();
  void close_anchor();
  bool anchor_logged_in();  // false too when the anchor is void (its handle refused)
  // Log in on the anchor (opened if need be); `again` words the error for a re-login.
  Status login_on_anchor(const SecureString& pin, bool again);
  // Re-login with the first login's PIN sources, with login_mu_ and the use lock held.
  Status login_again();

  Module* module_;
  CK_SLOT_ID slot_id_;
  TokenInfo info_;
  std::string describe_;
  Gateway gw_;
  SessionPool pool_;
  std::mutex login_mu_;
  bool logged_in_ = false;  // once the first login succeeded: the process wants the login
  bool login_required_ = true;
  CK_SESSION_HANDLE anchor_ = CK_INVALID_HANDLE;
  std::atomic<uint64_t> login_epoch_{0};
  std::optional<Error> login_refused_;
  std::optional<PinSources> pins_;  // of the first login, to log in again after recovery
};

// Check a token's flags before a login; pure logic (unit-tested without a device).
Status check_pin_flags(CK_FLAGS flags, const std::string& device);

}  // namespace hwca::tokens::pkcs11
