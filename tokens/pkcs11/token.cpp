#include "tokens/pkcs11/token.hpp"

#include <libp11.h>

#include "common/ossl.hpp"
#include "tokens/call_watch.hpp"
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

Token::Token(Module* module, PKCS11_slot_st* slot, CK_SLOT_ID slot_id, TokenInfo info)
    : module_(module),
      slot_(slot),
      slot_id_(slot_id),
      info_(std::move(info)),
      describe_("token '" + info_.label + "' (serial " + info_.serial + ")"),
      pool_(module->fn(), slot_id, describe_, module->max_sessions(), module->use_gate()) {}

CK_FUNCTION_LIST* Token::fn() const { return module_->fn(); }

std::chrono::milliseconds Token::call_timeout_ms() { return call_timeout(); }

Result<CK_FLAGS> Token::fresh_flags() {
  CK_TOKEN_INFO ti{};
  CK_RV rv;
  {
    CallWatch watch("C_GetTokenInfo", describe_);
    rv = fn()->C_GetTokenInfo(slot_id_, &ti);
  }
  if (rv != CKR_OK) return rv_error("cannot read the state of " + describe_, rv);
  return ti.flags;
}

Status Token::ensure_login(const PinSources& pins) {
  std::lock_guard lock(login_mu_);
  if (logged_in_) return {};
  if (login_refused_) return tl::unexpected(*login_refused_);

  auto flags = fresh_flags();
  if (!flags) return tl::unexpected(flags.error());
  pins_ = pins;
  if ((*flags & CKF_LOGIN_REQUIRED) == 0) {
    logged_in_ = true;
    return {};
  }
  // Another part of this process may have logged in already (login state is per process).
  auto already = sessions_logged_in();
  if (!already) return tl::unexpected(already.error());
  if (*already) {
    logged_in_ = true;
    return {};
  }
  if (auto ok = check_pin_flags(*flags, describe_); !ok) return ok;

  auto pin = obtain_pin(pins, "PIN for " + describe_);
  if (!pin) return tl::unexpected(pin.error());

  int rc;
  {
    std::lock_guard libp11_lock(module_->libp11_mutex());
    CallWatch watch("C_Login", describe_);
    rc = PKCS11_login(slot_, 0, pin->c_str());
  }
  if (rc != 0) {
    CK_RV rv = take_libp11_rv();
    if (rv == CKR_USER_ALREADY_LOGGED_IN) {
      logged_in_ = true;
      return {};
    }
    std::string why = rv == CKR_PIN_INCORRECT
                          ? describe_ +
                                " rejected the PIN (CKR_PIN_INCORRECT); not retrying, "
                                "check the PIN source"
                          : "login to " + describe_ + " failed: " + rv_name(rv);
    login_refused_ =
        Error{rv_kind(rv) == ErrorKind::device ? ErrorKind::device : ErrorKind::auth, why};
    return tl::unexpected(*login_refused_);
  }
  ERR_clear_error();
  // libp11's login covers our sessions when the module keeps one state per process (the
  // usual case). A proxy that gives each C_GetFunctionList caller its own instance
  // (p11-kit-client to a remote token) needs the same, accepted PIN on our instance too.
  auto covered = sessions_logged_in();
  if (!covered) return tl::unexpected(covered.error());
  if (!*covered) {
    auto lease = session();
    if (!lease) return tl::unexpected(lease.error());
    CallWatch watch("C_Login", describe_);
    CK_RV rv =
        fn()->C_Login(lease->get(), CKU_USER,
                      reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin->c_str())), pin->size());
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
      login_refused_ = Error{rv_kind(rv), "login to " + describe_ + " failed: " + rv_name(rv)};
      return tl::unexpected(*login_refused_);
    }
  }
  logged_in_ = true;
  return {};
}

Result<bool> Token::sessions_logged_in() {
  auto lease = session();
  if (!lease) return tl::unexpected(lease.error());
  CK_SESSION_INFO si{};
  CallWatch watch("C_GetSessionInfo", describe_);
  CK_RV rv = fn()->C_GetSessionInfo(lease->get(), &si);
  if (rv != CKR_OK) return rv_error("cannot read a session's state on " + describe_, rv);
  return si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS;
}

Result<CK_SESSION_HANDLE> Token::open_rw_session() {
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  CK_RV rv;
  {
    CallWatch watch("C_OpenSession", describe_);
    rv = fn()->C_OpenSession(slot_id_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &h);
  }
  if (rv != CKR_OK) return rv_error("cannot open a read-write session on " + describe_, rv);
  return h;
}

uint64_t Token::generation() const { return module_->generation(); }

bool Token::attached() const { return module_->attached(); }

Status Token::recover(uint64_t seen) { return module_->reinitialize(seen); }

Status Token::reattach() {
  CK_ULONG count = 0;
  std::vector<CK_SLOT_ID> ids;
  CK_RV rv;
  {
    CallWatch watch("C_GetSlotList", describe_);
    rv = fn()->C_GetSlotList(CK_TRUE, nullptr, &count);
    if (rv == CKR_OK) {
      ids.resize(count);
      rv = fn()->C_GetSlotList(CK_TRUE, ids.data(), &count);
      ids.resize(count);
    }
  }
  if (rv != CKR_OK) return rv_error("cannot list the slots for " + describe_, rv);
  std::optional<CK_SLOT_ID> found;
  CK_TOKEN_INFO ti{};
  for (CK_SLOT_ID id : ids) {
    CallWatch watch("C_GetTokenInfo", describe_);
    if (fn()->C_GetTokenInfo(id, &ti) == CKR_OK && trimmed_field(ti.label) == info_.label &&
        trimmed_field(ti.serialNumber) == info_.serial) {
      found = id;
      break;
    }
  }
  if (!found) return fail(ErrorKind::device, describe_ + " is not present");
  slot_id_ = *found;

  // Not waited for: a first login in progress holds it while it waits for a session, which
  // waits for this reinitialisation to end. The next attempt comes a second later.
  std::unique_lock lock(login_mu_, std::try_to_lock);
  if (!lock.owns_lock())
    return fail(ErrorKind::device, "a login to " + describe_ + " is under way");
  logged_in_ = false;
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  {
    CallWatch watch("C_OpenSession", describe_);
    rv = fn()->C_OpenSession(slot_id_, CKF_SERIAL_SESSION, nullptr, nullptr, &h);
  }
  if (rv != CKR_OK) return rv_error("cannot open a session on " + describe_, rv);
  auto give_up = [&](Error e) {
    CallWatch watch("C_CloseSession", describe_);
    fn()->C_CloseSession(h);
    return tl::unexpected(std::move(e));
  };
  if ((ti.flags & CKF_LOGIN_REQUIRED) != 0) {
    if (login_refused_) return give_up(*login_refused_);
    if (!pins_) return give_up(Error{ErrorKind::auth, "no PIN source to log in to " + describe_});
    if (auto ok = check_pin_flags(ti.flags, describe_); !ok) return give_up(ok.error());
    auto pin = obtain_pin(*pins_, "PIN for " + describe_);
    if (!pin) return give_up(pin.error());
    {
      CallWatch watch("C_Login", describe_);
      rv = fn()->C_Login(h, CKU_USER,
                         reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(pin->c_str())),
                         pin->size());
    }
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
      Error e{rv_kind(rv) == ErrorKind::device ? ErrorKind::device : ErrorKind::auth,
              "login to " + describe_ + " failed: " + rv_name(rv)};
      if (rv == CKR_PIN_INCORRECT) login_refused_ = e;  // never risk locking the PIN
      return give_up(e);
    }
  }
  logged_in_ = true;
  pool_.reopen(slot_id_, h);
  return {};
}

}  // namespace hwca::tokens::pkcs11
