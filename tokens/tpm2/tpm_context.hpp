// One ESYS context per TPM (per TCTI) and process, shared by every key and thread behind a
// lock, and the RAII handles for objects loaded in it.
//
// ESYS contexts are not thread-safe, and without a resource manager (swtpm, a bare
// /dev/tpm0) a TPM holds only a few transient objects that outlive the connection: so
// every call goes through with(), and every transient object is flushed by its handle.
//
// Every command the context sends is watched (CallWatch, through its CommandCounter): a TPM
// that stops answering ends the command with code 5, as a stuck PKCS#11 call does. A TPM that
// goes away and comes back is reached again by recover(): a new TCTI and ESYS context, the
// TPM started if it needs it, and a new generation that voids every handle of the old one
// (keys load again on their next use).
#pragma once

#include <tss2/tss2_esys.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "tokens/tpm2/command_counter.hpp"
#include "tokens/tpm2/tcti.hpp"

namespace hwca::tokens::tpm2 {

// A key this process keeps loaded and can load again: when the TPM has no room for another
// object (TPM_RC_OBJECT_MEMORY: a TPM without a resource manager holds about three), the
// context flushes the least recently used of them and tries once more.
class Evictable {
 public:
  virtual ~Evictable() = default;
  // Flush the object; it is loaded again on next use. Called under the context's lock.
  virtual void evict() = 0;

 private:
  friend class TpmContext;
  uint64_t last_use_ = 0;
};

class TpmContext {
 public:
  // The process's context for this TCTI, opened (TCTI loaded, ESYS initialised, TPM
  // started if nobody had) on first use.
  static Result<std::shared_ptr<TpmContext>> open(const TctiChoice& tcti);
  // Forget the cached contexts; each is closed when its last handle is dropped. A swtpm
  // serves one connection at a time: tests close hwca's before running tpm2-tools.
  static void close_all();
  ~TpmContext();
  TpmContext(const TpmContext&) = delete;
  TpmContext& operator=(const TpmContext&) = delete;

  // Run fn(ESYS_CONTEXT*) under the context's lock. The lock is recursive so that a handle
  // dropped inside fn can flush itself.
  template <typename Fn>
  decltype(auto) with(Fn&& fn) {
    std::lock_guard lock(mu_);
    return fn(esys_);
  }

  // Run rc = fn() under the lock; while it fails for want of object memory and another
  // tracked key can be flushed, flush the least recently used one and run fn again.
  template <typename Fn>
  TSS2_RC with_room(Fn&& fn) {
    std::lock_guard lock(mu_);
    for (;;) {
      TSS2_RC rc = fn(esys_);
      if (!is_object_memory(rc) || !evict_one()) return rc;
    }
  }

  // True when the context holds an ESYS context (false after a reconnection failed). Call
  // under the lock, or as a hint.
  bool connected() const { return esys_ != nullptr; }
  // Counts reconnections: an ESYS_TR of an older generation means nothing in this one.
  uint64_t generation() const { return generation_.load(); }
  // True when `rc` says the TPM was lost rather than refusing the command: a TCTI failure
  // (connection refused, closed, broken), a truncated or malformed answer, a TPM that wants
  // TPM2_Startup again (TPM_RC_INITIALIZE), or a transient object it no longer holds
  // (TPM_RC_HANDLE, TPM_RC_REFERENCE_H0: it restarted behind a resource manager).
  static bool is_lost(TSS2_RC rc);
  // The rc of the last error() of this thread, for a caller that only holds the Error.
  static TSS2_RC last_error_rc();
  static void clear_last_error_rc();
  // After `failure` (a lost TPM, is_lost) met in generation `seen`: connect again (new TCTI
  // and ESYS context, TPM2_Startup if needed, the tracked keys forgotten) and return ok to
  // try once more. At most one attempt a second per TPM: meanwhile (and when the attempt
  // fails) a device error naming the TPM, at once. Ok without an attempt when another thread
  // has connected again since `seen`. Call outside with().
  Status recover(uint64_t seen, const Error& failure);

  // Keys that hold a loaded object: tracked while loaded, touched on each use. Call under
  // the lock (inside with()).
  void track(Evictable* key);
  void untrack(Evictable* key);
  void touch(Evictable* key) { key->last_use_ = ++use_clock_; }

  // Passwords this TPM rejected, by an id naming the key and the password (never the
  // password itself): the process does not send them again.
  std::optional<Error> refusal(const std::string& id);
  void remember_refusal(const std::string& id, Error error);

  const std::string& tcti() const { return choice_.tcti; }
  // The commands this context has sent to the TPM since it was opened (every transmit,
  // TPM2_Startup included).
  uint64_t commands_sent() const { return counter_ ? counter_->commands() : 0; }
  // "TPM 'swtpm:host=127.0.0.1,port=2321'", for messages.
  std::string name() const;
  // "TPM '...': what: decoded rc", with the kind of rc; for TPM_RC_OBJECT_MEMORY, what to
  // do about a TPM that others' objects fill.
  tl::unexpected<Error> error(const std::string& what, TSS2_RC rc) const;

 private:
  explicit TpmContext(TctiChoice choice) : choice_(std::move(choice)) {}
  // Load the TCTI, initialise ESYS on it and start the TPM if nobody had.
  Status start();
  void disconnect();  // under the lock: ESYS finalised, TCTI closed
  static bool is_object_memory(TSS2_RC rc);
  bool evict_one();  // under the lock; false when nothing is left to flush

  std::recursive_mutex mu_;
  TctiChoice choice_;
  TctiPtr tcti_;
  std::unique_ptr<CommandCounter> counter_;  // wraps tcti_: what ESYS talks to
  ESYS_CONTEXT* esys_ = nullptr;
  std::vector<Evictable*> loaded_;
  std::map<std::string, Error> refusals_;
  uint64_t use_clock_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::chrono::steady_clock::time_point last_attempt_{};
  std::optional<Error> last_attempt_error_;  // of the last reconnection, if it failed
};

// How a handle lets go of its object when dropped.
enum class Release {
  flush,  // a transient object (a key, a primary): Esys_FlushContext removes it from the TPM
  close,  // a persistent object (0x81xxxxxx): Esys_TR_Close forgets ESYS's record of it and
          // leaves the object in the TPM
};

// An object ESYS knows about, released as `R` says when dropped.
template <Release R>
class TpmHandle {
 public:
  TpmHandle() = default;
  TpmHandle(std::shared_ptr<TpmContext> ctx, ESYS_TR handle)
      : ctx_(std::move(ctx)), handle_(handle), generation_(ctx_->generation()) {}
  ~TpmHandle() { reset(); }
  TpmHandle(TpmHandle&& other) noexcept { *this = std::move(other); }
  TpmHandle& operator=(TpmHandle&& other) noexcept {
    if (this != &other) {
      reset();
      ctx_ = std::move(other.ctx_);
      handle_ = other.handle_;
      generation_ = other.generation_;
      other.handle_ = ESYS_TR_NONE;
    }
    return *this;
  }
  TpmHandle(const TpmHandle&) = delete;
  TpmHandle& operator=(const TpmHandle&) = delete;

  ESYS_TR get() const { return handle_; }
  explicit operator bool() const { return handle_ != ESYS_TR_NONE; }
  // Release now (errors are ignored: the TPM may be gone, and then so is the object). A
  // handle of an older generation is only forgotten: its ESYS context is gone.
  void reset();
  // Made in an ESYS context the TPM's context has replaced since (recover).
  bool stale() const { return ctx_ && generation_ != ctx_->generation(); }

 private:
  std::shared_ptr<TpmContext> ctx_;
  ESYS_TR handle_ = ESYS_TR_NONE;
  uint64_t generation_ = 0;
};

using TransientHandle = TpmHandle<Release::flush>;
using PersistentHandle = TpmHandle<Release::close>;

// Frees what ESYS returned (Esys_Free) when dropped: outPublic, names, ...
template <typename T>
struct EsysFree {
  void operator()(T* p) const { Esys_Free(p); }
};
template <typename T>
using EsysPtr = std::unique_ptr<T, EsysFree<T>>;

}  // namespace hwca::tokens::tpm2
