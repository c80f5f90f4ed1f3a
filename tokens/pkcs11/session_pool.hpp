// A bounded pool of read-only PKCS#11 sessions on one slot. Sessions are opened lazily up
// to a limit (through the token's gateway); a caller waits at most the given time for a free
// one. Every lease holds the module's use lock shared, so that the module is never finalised
// under a session in use (Module::reinitialize takes it exclusively). In a forked child the
// pool forgets its sessions, the parent's, before its first use (abandon()).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "tokens/pkcs11/gateway.hpp"
#include "tokens/pkcs11/pkcs11_api.hpp"

namespace hwca::tokens::pkcs11 {

class SessionPool;
using UseLock = std::shared_lock<std::shared_timed_mutex>;

// A module's use lock: held shared by every session lease, exclusively while the module is
// initialised again. Once an exclusive taker waits, new shared takers wait behind it: a
// steady stream of failing calls must not starve the reinitialisation that would end it.
class UseGate {
 public:
  UseLock shared() {
    std::lock_guard gate(gate_);
    return UseLock(use_);
  }
  // The lock held exclusively, or not held (owns_lock() false) after `timeout`.
  std::unique_lock<std::shared_timed_mutex> exclusive(std::chrono::milliseconds timeout) {
    std::lock_guard gate(gate_);
    std::unique_lock lock(use_, std::defer_lock);
#if defined(__SANITIZE_THREAD__)
    // libstdc++ waits on the steady clock in pthread_rwlock_clockwrlock, which GCC 12's
    // ThreadSanitizer does not intercept: it would not see the lock held and would report
    // races under it. Its wait on the system clock (pthread_rwlock_timedwrlock) it sees.
    (void)lock.try_lock_until(std::chrono::system_clock::now() + timeout);
#else
    (void)lock.try_lock_for(timeout);
#endif
    return lock;
  }

 private:
  std::mutex gate_;
  std::shared_timed_mutex use_;
};

// A session borrowed from the pool; returned when the lease ends. Mark it broken when a
// call on it failed in a way that leaves it unusable, and it is closed instead.
class SessionLease {
 public:
  SessionLease() = default;
  SessionLease(SessionPool* pool, CK_SESSION_HANDLE h, UseLock use)
      : pool_(pool), handle_(h), use_(std::move(use)) {}
  SessionLease(SessionLease&& o) noexcept { *this = std::move(o); }
  SessionLease& operator=(SessionLease&& o) noexcept;
  SessionLease(const SessionLease&) = delete;
  SessionLease& operator=(const SessionLease&) = delete;
  ~SessionLease() { reset(); }

  CK_SESSION_HANDLE get() const { return handle_; }
  void mark_broken() { broken_ = true; }
  void reset();  // give the session back and the use lock up

 private:
  SessionPool* pool_ = nullptr;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
  bool broken_ = false;
  UseLock use_;
};

class SessionPool {
 public:
  // `gw` names the token for messages and the watchdog.
  SessionPool(Gateway gw, CK_SLOT_ID slot, size_t max_sessions, UseGate& use);
  ~SessionPool();

  // `rv`, when given, receives C_OpenSession's answer if opening a session failed.
  Result<SessionLease> acquire(std::chrono::milliseconds timeout, CK_RV* rv = nullptr);
  // Close every idle session; leased ones are closed when returned.
  void close_all();

  // Close the idle sessions (after the token lost its login or its sessions: their handles
  // may be void); leased ones are closed when a call on them fails. With the use lock held.
  void drop_idle();

  // For Module::reinitialize, with the use lock held exclusively (so nothing is leased):
  // forget() closes the idle sessions before the module is finalised; reopen() takes the
  // token's slot (it may have moved). The login is held by the token's anchor session,
  // which the pool never lends: closing any pooled session never logs the token out.
  void forget();
  void reopen(CK_SLOT_ID slot);
  // In a forked child (Module::ensure_this_process), with the use lock held exclusively:
  // forget the idle sessions, which are the parent's, without closing them.
  void abandon();

 private:
  friend class SessionLease;
  void release(CK_SESSION_HANDLE h, bool broken);
  // C_CloseSession on each of HANDLES, taken out of the pool before (their answers do not
  // matter: the sessions may be void, or the device gone).
  void close_sessions(const std::vector<CK_SESSION_HANDLE>& handles);

  Gateway gw_;
  CK_SLOT_ID slot_;
  size_t max_;
  UseGate& use_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<CK_SESSION_HANDLE> idle_;
  size_t open_ = 0;
  bool closed_ = false;
};

}  // namespace hwca::tokens::pkcs11
