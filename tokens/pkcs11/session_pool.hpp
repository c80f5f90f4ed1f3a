// A bounded pool of read-only PKCS#11 sessions on one slot. Sessions are opened lazily up
// to a limit; a caller waits at most the given time for a free one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "tokens/pkcs11/pkcs11_api.hpp"

namespace hwca::tokens::pkcs11 {

class SessionPool;

// A session borrowed from the pool; returned when the lease ends. Mark it broken when a
// call on it failed in a way that leaves it unusable, and it is closed instead.
class SessionLease {
 public:
  SessionLease() = default;
  SessionLease(SessionPool* pool, CK_SESSION_HANDLE h) : pool_(pool), handle_(h) {}
  SessionLease(SessionLease&& o) noexcept { *this = std::move(o); }
  SessionLease& operator=(SessionLease&& o) noexcept;
  SessionLease(const SessionLease&) = delete;
  SessionLease& operator=(const SessionLease&) = delete;
  ~SessionLease() { reset(); }

  CK_SESSION_HANDLE get() const { return handle_; }
  void mark_broken() { broken_ = true; }
  void reset();

 private:
  SessionPool* pool_ = nullptr;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
  bool broken_ = false;
};

class SessionPool {
 public:
  SessionPool(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot, std::string device, size_t max_sessions);
  ~SessionPool();

  Result<SessionLease> acquire(std::chrono::milliseconds timeout);
  // Close every idle session; leased ones are closed when returned.
  void close_all();

 private:
  friend class SessionLease;
  void release(CK_SESSION_HANDLE h, bool broken);

  CK_FUNCTION_LIST* fn_;
  CK_SLOT_ID slot_;
  std::string device_;
  size_t max_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<CK_SESSION_HANDLE> idle_;
  size_t open_ = 0;
  bool closed_ = false;
};

}  // namespace hwca::tokens::pkcs11
