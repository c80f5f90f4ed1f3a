#include "tokens/pkcs11/session_pool.hpp"

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

SessionPool::SessionPool(Gateway gw, CK_SLOT_ID slot, size_t max_sessions, UseGate& use)
    : gw_(std::move(gw)), slot_(slot), max_(max_sessions), use_(use) {}

SessionPool::~SessionPool() { close_all(); }

Result<SessionLease> SessionPool::acquire(std::chrono::milliseconds timeout, CK_RV* rv_out) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  UseLock use = use_.shared();  // waits while the module is being initialised again
  std::unique_lock lock(mu_);
  for (;;) {
    if (closed_) return fail(ErrorKind::device, gw_.device() + " has been closed");
    if (!idle_.empty()) {
      CK_SESSION_HANDLE h = idle_.back();
      idle_.pop_back();
      return SessionLease(this, h, std::move(use));
    }
    if (open_ < max_) {
      ++open_;
      lock.unlock();
      CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
      Rv rv = gw_.call(HWCA_CK(C_OpenSession), slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &h);
      lock.lock();
      if (rv) return SessionLease(this, h, std::move(use));
      --open_;
      if (rv == CKR_SESSION_COUNT && open_ > 0) {
        max_ = open_;  // the token's real limit; wait for one of ours
        continue;
      }
      freed_.notify_one();
      if (rv_out != nullptr) *rv_out = rv.value();
      return rv.error("cannot open a session on " + gw_.device());
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
        open_ >= max_) {
      return fail(ErrorKind::device, "no session on " + gw_.device() + " became free within " +
                                         std::to_string(timeout.count()) + " ms");
    }
  }
}

void SessionPool::release(CK_SESSION_HANDLE h, bool broken) {
  std::unique_lock lock(mu_);
  if (broken || closed_) {
    --open_;
    lock.unlock();
    (void)gw_.call(HWCA_CK(C_CloseSession), h);  // its answer does not matter
    lock.lock();
  } else {
    idle_.push_back(h);
  }
  freed_.notify_one();
}

void SessionPool::close_sessions(const std::vector<CK_SESSION_HANDLE>& handles) {
  for (auto h : handles) (void)gw_.call(HWCA_CK(C_CloseSession), h);
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

void SessionPool::abandon() {
  std::lock_guard lock(mu_);
  idle_.clear();
  open_ = 0;
}

void SessionPool::reopen(CK_SLOT_ID slot) {
  std::lock_guard lock(mu_);
  slot_ = slot;
  open_ = 0;
  freed_.notify_all();
}

}  // namespace hwca::tokens::pkcs11
