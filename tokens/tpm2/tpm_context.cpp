#include "tokens/tpm2/tpm_context.hpp"

#include <algorithm>
#include <map>

#include "common/text.hpp"
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
  auto tcti = load_tcti(choice_);
  if (!tcti) return tl::unexpected(tcti.error());
  tcti_ = std::move(*tcti);
  counter_ = std::make_unique<CommandCounter>(tcti_.get());
  TSS2_RC rc = Esys_Initialize(&esys_, counter_->tcti(), nullptr);
  if (rc != TSS2_RC_SUCCESS) return error("ESYS initialisation failed", rc);
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
