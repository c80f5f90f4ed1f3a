// One ESYS context per TPM (per TCTI) and process, shared by every key and thread behind a
// lock, and the RAII handles for objects loaded in it.
//
// ESYS contexts are not thread-safe, and without a resource manager (swtpm, a bare
// /dev/tpm0) a TPM holds only a few transient objects that outlive the connection: so
// every call goes through with(), and every transient object is flushed by its handle.
#pragma once

#include <tss2/tss2_esys.h>

#include <memory>
#include <mutex>
#include <string>

#include "common/result.hpp"
#include "tokens/tpm2/tcti.hpp"

namespace hwca::tokens::tpm2 {

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

  const std::string& tcti() const { return choice_.tcti; }
  // "TPM 'swtpm:host=127.0.0.1,port=2321'", for messages.
  std::string name() const;
  // "TPM '...': what: decoded rc", with the kind of rc.
  tl::unexpected<Error> error(const std::string& what, TSS2_RC rc) const;

 private:
  explicit TpmContext(TctiChoice choice) : choice_(std::move(choice)) {}
  Status start();

  std::recursive_mutex mu_;
  TctiChoice choice_;
  TctiPtr tcti_;
  ESYS_CONTEXT* esys_ = nullptr;
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
      : ctx_(std::move(ctx)), handle_(handle) {}
  ~TpmHandle() { reset(); }
  TpmHandle(TpmHandle&& other) noexcept { *this = std::move(other); }
  TpmHandle& operator=(TpmHandle&& other) noexcept {
    if (this != &other) {
      reset();
      ctx_ = std::move(other.ctx_);
      handle_ = other.handle_;
      other.handle_ = ESYS_TR_NONE;
    }
    return *this;
  }
  TpmHandle(const TpmHandle&) = delete;
  TpmHandle& operator=(const TpmHandle&) = delete;

  ESYS_TR get() const { return handle_; }
  explicit operator bool() const { return handle_ != ESYS_TR_NONE; }
  // Release now (errors are ignored: the TPM may be gone, and then so is the object).
  void reset();

 private:
  std::shared_ptr<TpmContext> ctx_;
  ESYS_TR handle_ = ESYS_TR_NONE;
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
