#include "tokens/tpm2/tpm_context.hpp"

#include <algorithm>
#include <map>

#include "common/text.hpp"
#include "tokens/call_watch.hpp"
#include "tokens/tpm2/rc.hpp"

namespace hwca::tokens::tpm2 {

namespace {

std::mutex& cache_mutex() {
  static std::mutex mu;
  return mu;
}

std::map<std::string, std::shared_ptr<TpmContext>>& cache() {
  static std::map<std::string, std::shared_ptr<TpmContext>> contexts;
  return contexts;
}

thread_local TSS2_RC t_last_error_rc = TSS2_RC_SUCCESS;

constexpr auto kReconnectInterval = std::chrono::seconds(1);

}  // namespace

Result<std::shared_ptr<TpmContext>> TpmContext::open(const TctiChoice& tcti) {
  std::lock_guard lock(cache_mutex());
  if (auto it = cache().find(tcti.tcti); it != cache().end()) return it->second;
  std::shared_ptr<TpmContext> ctx(new TpmContext(tcti));
  if (auto ok = ctx->start(); !ok) return tl::unexpected(ok.error());
  cache()[tcti.tcti] = ctx;
  return ctx;
}

void TpmContext::close_all() {
  std::map<std::string, std::shared_ptr<TpmContext>> contexts;
  {
    std::lock_guard lock(cache_mutex());
    contexts.swap(cache());
  }
  // Dropped here, outside the cache lock: closing a context talks to its TPM.
}

Status TpmContext::start() {
  auto tcti = [&] {
    // swtpm's TCTI talks to the TPM while it initialises.
    CallWatch watch("Tss2_TctiLdr_Initialize", name());
    return load_tcti(choice_);
  }();
  if (!tcti) return tl::unexpected(tcti.error());
  if (counter_) {
    counter_->rebind(tcti->get());
  } else {
    counter_ = std::make_unique<CommandCounter>(tcti->get(), name());
  }
  tcti_ = std::move(*tcti);
  TSS2_RC rc = Esys_Initialize(&esys_, counter_->tcti(), nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    esys_ = nullptr;
    return error("ESYS initialisation failed", rc);
  }
  // A TPM is started once after power-on, by firmware, the kernel or (swtpm) its
  // startup-clear flag; a TPM that nobody started refuses every command, so start it here.
  // TPM_RC_INITIALIZE says it was already started: the normal case. A resource manager
  // may also refuse Startup itself (its own layer): then it has started the TPM.
  rc = Esys_Startup(esys_, TPM2_SU_CLEAR);
  bool started = rc == TSS2_RC_SUCCESS || tpm_rc(rc) == TPM2_RC_INITIALIZE ||
                 (rc & TSS2_RC_LAYER_MASK) == TSS2_RESMGR_RC_LAYER;
  if (!started) return error("TPM2_Startup failed", rc);
  return {};
}

void TpmContext::disconnect() {
  if (esys_ != nullptr) Esys_Finalize(&esys_);  // sends nothing to the TPM
  esys_ = nullptr;
  tcti_.reset();
}

bool TpmContext::is_lost(TSS2_RC rc) {
  if (rc == TSS2_RC_SUCCESS) return false;
  if (auto code = tpm_rc(rc)) {
    return *code == TPM2_RC_INITIALIZE || *code == TPM2_RC_HANDLE || *code == TPM2_RC_REFERENCE_H0;
  }
  TSS2_RC layer = rc & TSS2_RC_LAYER_MASK, base = rc & 0xffff;
  if (layer == TSS2_TCTI_RC_LAYER) return true;  // every TCTI failure: the way to the TPM
  if (layer != TSS2_SYS_RC_LAYER && layer != TSS2_ESAPI_RC_LAYER) return false;
  // A connection that broke mid-answer, and ESYS refusing to go on after it.
  return base == TSS2_BASE_RC_IO_ERROR || base == TSS2_BASE_RC_NO_CONNECTION ||
         base == TSS2_BASE_RC_MALFORMED_RESPONSE || base == TSS2_BASE_RC_INSUFFICIENT_RESPONSE ||
         base == TSS2_BASE_RC_BAD_SEQUENCE || base == TSS2_BASE_RC_TRY_AGAIN;
}

TSS2_RC TpmContext::last_error_rc() { return t_last_error_rc; }
void TpmContext::clear_last_error_rc() { t_last_error_rc = TSS2_RC_SUCCESS; }

Status TpmContext::recover(uint64_t seen, const Error& failure) {
  std::lock_guard lock(mu_);
  if (generation_.load() != seen && esys_ != nullptr) return {};  // reconnected meanwhile
  auto now = std::chrono::steady_clock::now();
  if (last_attempt_ != std::chrono::steady_clock::time_point{} &&
      now - last_attempt_ < kReconnectInterval) {
    Error refused = last_attempt_error_ ? *last_attempt_error_ : failure;
    refused.kind = ErrorKind::device;
    return tl::unexpected(refused);
  }
  last_attempt_ = now;
  // Every ESYS_TR of the old context is void from here: the handles only forget theirs, the
  // keys load again (under a new SRK) on their next use.
  generation_.fetch_add(1);
  loaded_.clear();
  disconnect();
  if (auto ok = start(); !ok) {
    disconnect();
    last_attempt_error_ =
        Error{ErrorKind::device, name() + " was lost (" + failure.message +
                                     ") and cannot be reached again: " + ok.error().message};
    return tl::unexpected(*last_attempt_error_);
  }
  last_attempt_error_.reset();
  return {};
}

TpmContext::~TpmContext() {
  if (esys_ != nullptr) Esys_Finalize(&esys_);
  // tcti_ is finalised after ESYS by its own destructor.
}

bool TpmContext::is_object_memory(TSS2_RC rc) {
  auto code = tpm_rc(rc);
  return code && *code == TPM2_RC_OBJECT_MEMORY;
}

void TpmContext::track(Evictable* key) {
  std::lock_guard lock(mu_);
  if (std::find(loaded_.begin(), loaded_.end(), key) == loaded_.end()) loaded_.push_back(key);
  touch(key);
}

void TpmContext::untrack(Evictable* key) {
  std::lock_guard lock(mu_);
  std::erase(loaded_, key);
}

bool TpmContext::evict_one() {
  if (loaded_.empty()) return false;
  auto oldest = std::min_element(loaded_.begin(), loaded_.end(),
                                 [](auto* a, auto* b) { return a->last_use_ < b->last_use_; });
  Evictable* key = *oldest;
  loaded_.erase(oldest);
  key->evict();
  return true;
}

std::optional<Error> TpmContext::refusal(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = refusals_.find(id);
  if (it == refusals_.end()) return std::nullopt;
  return it->second;
}

void TpmContext::remember_refusal(const std::string& id, Error error) {
  std::lock_guard lock(mu_);
  refusals_[id] = std::move(error);
}

std::string TpmContext::name() const { return "TPM '" + printable(choice_.tcti) + "'"; }

tl::unexpected<Error> TpmContext::error(const std::string& what, TSS2_RC rc) const {
  t_last_error_rc = rc;
  if (is_object_memory(rc)) {
    // Reached only when none of hwca's own keys could be flushed (with_room).
    return fail(ErrorKind::device,
                name() + ": " + what +
                    ": the TPM has no room for another object (TPM_RC_OBJECT_MEMORY): objects "
                    "left loaded by other programs fill it; use the kernel's resource manager "
                    "(device:/dev/tpmrm0) or flush them (tpm2_flushcontext -t)");
  }
  return rc_error(name() + ": " + what, rc);
}

template <Release R>
void TpmHandle<R>::reset() {
  if (handle_ == ESYS_TR_NONE || !ctx_) return;
  ctx_->with([this](ESYS_CONTEXT* esys) {
    if (esys == nullptr || stale()) return;  // its ESYS context is gone, and the object too
    // A flush that succeeds makes ESYS forget the object too; on failure, or for a
    // persistent object, its record stays until closed.
    if (R == Release::close || Esys_FlushContext(esys, handle_) != TSS2_RC_SUCCESS) {
      Esys_TR_Close(esys, &handle_);
    }
  });
  handle_ = ESYS_TR_NONE;
  ctx_.reset();
}

template class TpmHandle<Release::flush>;
template class TpmHandle<Release::close>;

}  // namespace hwca::tokens::tpm2
