#include "tokens/pkcs11/session_pool.hpp"

#include "tokens/call_watch.hpp"

namespace hwca::tokens::pkcs11 {

SessionLease& SessionLease::operator=(SessionLease&& o) noexcept {
  if (this != &o) {
    reset();
    pool_ = o.pool_;
    handle_ = o.handle_;
    broken_ = o.broken_;
    use_ = std::move(o.use_);
    o.pool_ = nullptr;
    o.handle_ = CK_INVALID_HANDLE;
  }
  return *this;
}

void SessionLease::reset() {
  if (pool_ != nullptr) pool_->release(handle_, broken_);
  pool_ = nullptr;
  handle_ = CK_INVALID_HANDLE;
  broken_ = false;
  if (use_.owns_lock()) use_.unlock();
}

SessionPool::SessionPool(CK_FUNCTION_LIST* fn, CK_SLOT_ID slot, std::string device,
                         size_t max_sessions, UseGate& use)
    : fn_(fn), slot_(slot), device_(std::move(device)), max_(max_sessions), use_(use) {}

SessionPool::~SessionPool() { close_all(); }

Result<SessionLease> SessionPool::acquire(std::chrono::milliseconds timeout, CK_RV* rv_out) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  UseLock use = use_.shared();  // waits while the module is being initialised again
  std::unique_lock lock(mu_);
  for (;;) {
    if (closed_) return fail(ErrorKind::device, device_ + " has been closed");
    if (!idle_.empty()) {
      CK_SESSION_HANDLE h = idle_.back();
      idle_.pop_back();
      return SessionLease(this, h, std::move(use));
    }
    if (open_ < max_) {
      ++open_;
      lock.unlock();
      CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
      CK_RV rv;
      {
        CallWatch watch("C_OpenSession", device_);
        rv = fn_->C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &h);
      }
      lock.lock();
      if (rv == CKR_OK) return SessionLease(this, h, std::move(use));
      --open_;
      if (rv == CKR_SESSION_COUNT && open_ > 0) {
        max_ = open_;  // the token's real limit; wait for one of ours
        continue;
      }
      freed_.notify_one();
      if (rv_out != nullptr) *rv_out = rv;
      return rv_error("cannot open a session on " + device_, rv);
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= max_) {
      return fail(ErrorKind::device, "no session on " + device_ + " became free within " +
                                         std::to_string(timeout.count()) + " ms");
    }
  }
}

void SessionPool::release(CK_SESSION_HANDLE h, bool broken) {
  std::unique_lock lock(mu_);
  if (broken || closed_) {
    --open_;
    lock.unlock();
    {
      CallWatch watch("C_CloseSession", device_);
      fn_->C_CloseSession(h);
    }
    lock.lock();
  } else {
    idle_.push_back(h);
  }
  freed_.notify_one();
}

void SessionPool::close_sessions(const std::vector<CK_SESSION_HANDLE>& handles) {
  for (auto h : handles) {
    CallWatch watch("C_CloseSession", device_);
    fn_->C_CloseSession(h);
  }
}

void SessionPool::close_all() {
  std::unique_lock lock(mu_);
  closed_ = true;
  std::vector<CK_SESSION_HANDLE> idle;
  idle.swap(idle_);
  open_ -= idle.size();
  lock.unlock();
  close_sessions(idle);
}

void SessionPool::forget() {
  std::vector<CK_SESSION_HANDLE> idle;
  {
    std::lock_guard lock(mu_);
    idle.swap(idle_);
    open_ = 0;  // nothing is leased while the use lock is held exclusively
  }
  close_sessions(idle);
}

void SessionPool::drop_idle() {
  std::unique_lock lock(mu_);
  std::vector<CK_SESSION_HANDLE> idle;
  idle.swap(idle_);
  open_ -= idle.size();
  lock.unlock();
  close_sessions(idle);
  freed_.notify_all();
}

void SessionPool::reopen(CK_SLOT_ID slot) {
  std::lock_guard lock(mu_);
  slot_ = slot;
  open_ = 0;
  freed_.notify_all();
}

}  // namespace hwca::tokens::pkcs11
