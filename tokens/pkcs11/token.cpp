#include "tokens/pkcs11/token.hpp"

#include "common/ossl.hpp"
#include "tokens/call_watch.hpp"
#include "tokens/pkcs11/gateway.hpp"
#include "tokens/pkcs11/module.hpp"

namespace hwca::tokens::pkcs11 {
Status check_pin_flags(CK_FLAGS flags, const std::string& device) {
  if ((flags & CKF_USER_PIN_LOCKED) != 0) {
    return fail(ErrorKind::auth,
                "the user PIN of " + device + " is locked; the security officer must reset it");
  }
  if ((flags & CKF_USER_PIN_FINAL_TRY) != 0) {
    return fail(ErrorKind::auth, "the user PIN of " + device +
                                     " has one try left; hwca will not risk locking it. Check "
                                     "the PIN by hand (pkcs11-tool --login --test) first");
  }
  if ((flags & CKF_USER_PIN_TO_BE_CHANGED) != 0) {
    return fail(ErrorKind::auth, "the user PIN of " + device +
                                     " must be changed before use (pkcs11-tool --change-pin)");
  }
  if ((flags & CKF_USER_PIN_INITIALIZED) == 0) {
    return fail(ErrorKind::auth, "the user PIN of " + device +
                                     " has not been set (initialise "
                                     "it with pkcs11-tool --init-pin or softhsm2-util)");
  }
  return {};
}

Token::Token(Module* module, CK_SLOT_ID slot_id, TokenInfo info)
    : module_(module),
      slot_id_(slot_id),
      info_(std::move(info)),
      describe_("token '" + info_.label + "' (serial " + info_.serial + ")"),
      gw_(module->fn(), describe_),
      pool_(gw_, slot_id, module->max_sessions(), module->use_gate()) {}

std::chrono::milliseconds Token::call_timeout_ms() { return call_timeout(); }

Result<CK_FLAGS> Token::fresh_flags() {
  CK_TOKEN_INFO ti{};
  if (Rv rv = gw_.call(HWCA_CK(C_GetTokenInfo), slot_id_, &ti); !rv) {
    return rv.error("cannot read the state of " + describe_);
  }
  return ti.flags;
}

namespace {

CK_UTF8CHAR* utf8(const SecureString& pin) {
  return reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin.c_str()));
}

// A login refusal that must never be tried again with the same PIN.
bool pin_refused(CK_RV rv) {
  return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE ||
         rv == CKR_PIN_EXPIRED || rv == CKR_PIN_LOCKED || rv == CKR_USER_PIN_NOT_INITIALIZED;
}

}  // namespace

Result<SessionLease> Token::session(CK_RV* rv) {
  if (auto ok = module_->ensure_this_process(); !ok) return tl::unexpected(ok.error());
  return pool_.acquire(call_timeout_ms(), rv);
}

Status Token::ensure_login(const PinSources& pins) {
  if (auto ok = module_->ensure_this_process(); !ok) return ok;
  std::lock_guard lock(login_mu_);
  if (login_refused_) return tl::unexpected(*login_refused_);
  if (logged_in_) {
    if (!login_required_) return {};
    // Still logged in? One C_GetSessionInfo on the anchor; if the login was lost (a device
    // reset, another application's C_Logout), log in again before the caller looks for keys.
    UseLock use = module_->use_gate().shared();
    if (anchor_logged_in()) return {};
    auto again = login_again();
    if (again) pool_.drop_idle();
    return again;
  }

  auto flags = fresh_flags();
  if (!flags) return tl::unexpected(flags.error());
  pins_ = pins;
  if ((*flags & CKF_LOGIN_REQUIRED) == 0) {
    login_required_ = false;
    logged_in_ = true;
    return {};
  }
  {
    // Another part of this process may have logged in already (login state is per process).
    UseLock use = module_->use_gate().shared();
    if (auto ok = open_anchor(); !ok) return ok;
    if (anchor_logged_in()) {
      logged_in_ = true;
      return {};
    }
  }
  if (auto ok = check_pin_flags(*flags, describe_); !ok) return ok;
  auto pin = obtain_pin(pins, "PIN for " + describe_);
  if (!pin) return tl::unexpected(pin.error());
  UseLock use = module_->use_gate().shared();
  return login_on_anchor(*pin, /*again=*/false);
}

Status Token::open_anchor() {
  if (anchor_ != CK_INVALID_HANDLE) return {};
  Rv rv =
      gw_.call(HWCA_CK(C_OpenSession), slot_id_, CKF_SERIAL_SESSION, nullptr, nullptr, &anchor_);
  if (rv) return {};
  anchor_ = CK_INVALID_HANDLE;
  return fail(ErrorKind::device,
              "cannot open a session on " + describe_ + ": " + rv_name(rv.value()));
}

void Token::close_anchor() {
  if (anchor_ == CK_INVALID_HANDLE) return;
  // A void handle answers an error that does not matter.
  (void)gw_.call(HWCA_CK(C_CloseSession), anchor_);
  anchor_ = CK_INVALID_HANDLE;
}

bool Token::anchor_logged_in() {
  if (anchor_ == CK_INVALID_HANDLE) return false;
  CK_SESSION_INFO si{};
  if (!gw_.call(HWCA_CK(C_GetSessionInfo), anchor_, &si)) {
    close_anchor();  // void (its sessions closed, the module reset): open another
    return false;
  }
  return si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS;
}

Status Token::login_on_anchor(const SecureString& pin, bool again) {
  if (auto ok = open_anchor(); !ok) return ok;
  const CK_RV rv = gw_.call(HWCA_CK(C_Login), anchor_, CKU_USER, utf8(pin), pin.size()).value();
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    // The anchor is kept: a login that failed leaves it usable for the next attempt.
    if (pin_refused(rv)) {
      login_refused_ =
          Error{ErrorKind::auth, rv == CKR_PIN_INCORRECT
                                     ? describe_ +
                                           " rejected the PIN (CKR_PIN_INCORRECT); "
                                           "not retrying, check the PIN source"
                                     : "login to " + describe_ + " failed: " + rv_name(rv)};
      return tl::unexpected(*login_refused_);
    }
    // Anything else is the device's trouble, and worth another attempt later.
    return fail(ErrorKind::device, std::string(again ? "logging in again to " : "login to ") +
                                       describe_ + " failed: " + rv_name(rv));
  }
  logged_in_ = true;
  login_epoch_.fetch_add(1);
  return {};
}

Status Token::login_again() {
  if (login_refused_) return tl::unexpected(*login_refused_);
  if (!pins_) return fail(ErrorKind::device, "no PIN source to log in to " + describe_ + " again");
  auto pin = obtain_pin(*pins_, "PIN for " + describe_);
  if (!pin) {
    return fail(ErrorKind::device,
                "cannot log in to " + describe_ + " again: " + pin.error().message);
  }
  return login_on_anchor(*pin, /*again=*/true);
}

Result<bool> Token::relogin(uint64_t seen) {
  std::lock_guard lock(login_mu_);
  if (login_epoch_.load() != seen) return true;  // done by another thread (or a reconnection)
  if (!logged_in_ || !login_required_) return false;
  UseLock use = module_->use_gate().shared();
  if (anchor_logged_in()) return false;
  if (auto ok = login_again(); !ok) return tl::unexpected(ok.error());
  pool_.drop_idle();  // opened before: their handles may be void
  return true;
}

void Token::forget_sessions() {
  pool_.forget();
  close_anchor();
}

void Token::abandon_sessions() {
  pool_.abandon();
  anchor_ = CK_INVALID_HANDLE;
}

Result<CK_SESSION_HANDLE> Token::open_rw_session() {
  if (auto ok = module_->ensure_this_process(); !ok) return tl::unexpected(ok.error());
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  Rv rv = gw_.call(HWCA_CK(C_OpenSession), slot_id_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                   nullptr, &h);
  if (!rv) return rv.error("cannot open a read-write session on " + describe_);
  return h;
}

uint64_t Token::generation() const { return module_->generation(); }

bool Token::attached() const { return module_->attached(); }

Status Token::recover(uint64_t seen) { return module_->reinitialize(seen); }

Status Token::reattach() {
  std::vector<CK_SLOT_ID> ids;
  if (Rv rv = slots_with_token(gw_, ids); !rv) {
    return rv.error("cannot list the slots for " + describe_);
  }
  std::optional<CK_SLOT_ID> found;
  CK_TOKEN_INFO ti{};
  for (CK_SLOT_ID id : ids) {
    if (gw_.call(HWCA_CK(C_GetTokenInfo), id, &ti) && trimmed_field(ti.label) == info_.label &&
        trimmed_field(ti.serialNumber) == info_.serial) {
      found = id;
      break;
    }
  }
  if (!found) return fail(ErrorKind::device, describe_ + " is not present");
  slot_id_ = *found;

  // Not waited for: a first login in progress holds it while it waits for the use lock,
  // which waits for this reinitialisation to end. The next attempt comes a second later.
  std::unique_lock lock(login_mu_, std::try_to_lock);
  if (!lock.owns_lock())
    return fail(ErrorKind::device, "a login to " + describe_ + " is under way");
  anchor_ = CK_INVALID_HANDLE;  // the old one went with the module's finalisation
  pool_.reopen(slot_id_);
  // Never logged in (the next ensure_login will), or no login needed: nothing to restore.
  if (!logged_in_ || !pins_ || (ti.flags & CKF_LOGIN_REQUIRED) == 0 || !login_required_) {
    login_epoch_.fetch_add(1);
    return {};
  }
  if (auto ok = check_pin_flags(ti.flags, describe_); !ok) return ok;
  return login_again();
}

}  // namespace hwca::tokens::pkcs11
