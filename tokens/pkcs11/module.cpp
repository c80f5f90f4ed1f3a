#include "tokens/pkcs11/module.hpp"

#include <dlfcn.h>
#include <libp11.h>
#include <pthread.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "tokens/call_watch.hpp"
#include "tokens/pkcs11/gateway.hpp"

namespace hwca::tokens::pkcs11 {
namespace {

constexpr const char* kP11KitProxy = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so";

std::mutex& cache_mutex() {
  static auto* mu = new std::mutex();
  return *mu;
}
std::map<std::string, std::shared_ptr<Module>>& cache() {
  static auto* modules = new std::map<std::string, std::shared_ptr<Module>>();
  return *modules;
}

std::string str(const char* s) { return s != nullptr ? s : ""; }

std::atomic<uint64_t> g_forks{0};

// Counts forks in the child, from the first module load on.
void count_forks() {
  static std::once_flag once;
  std::call_once(once, [] {
    ::pthread_atfork(nullptr, nullptr, [] { g_forks.fetch_add(1, std::memory_order_relaxed); });
  });
}

std::vector<std::string> token_flags(const PKCS11_TOKEN* t) {
  std::vector<std::string> f;
  if (t->loginRequired) f.emplace_back("login-required");
  if (!t->userPinSet) f.emplace_back("user-pin-not-initialized");
  if (t->userPinCountLow) f.emplace_back("user-pin-count-low");
  if (t->userPinFinalTry) f.emplace_back("user-pin-final-try");
  if (t->userPinLocked) f.emplace_back("user-pin-locked");
  if (t->userPinToBeChanged) f.emplace_back("user-pin-to-be-changed");
  if (t->readOnly) f.emplace_back("write-protected");
  return f;
}

}  // namespace

std::string trimmed_field(const unsigned char* field, size_t size) {
  std::string s(reinterpret_cast<const char*>(field), size);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

std::string resolve_module_path(const Pkcs11Uri& uri, const std::string& option) {
  if (uri.module_path) return *uri.module_path;
  if (!option.empty()) return option;
  if (const char* env = std::getenv("HWCA_PKCS11_MODULE"); env != nullptr && *env != '\0') {
    return env;
  }
  return kP11KitProxy;
}

Result<std::shared_ptr<Module>> Module::open(const std::string& path) {
  std::lock_guard lock(cache_mutex());
  if (auto it = cache().find(path); it != cache().end()) return it->second;
  std::shared_ptr<Module> module(new Module());
  if (auto ok = module->load(path); !ok) return tl::unexpected(ok.error());
  cache()[path] = module;
  return module;
}

void Module::close_all() {
  std::map<std::string, std::shared_ptr<Module>> modules;
  {
    std::lock_guard lock(cache_mutex());
    modules.swap(cache());
  }
  for (auto& [path, module] : modules) module->unload();
}

Module::~Module() { unload(); }

uint64_t Module::forks() { return g_forks.load(std::memory_order_relaxed); }

Status Module::load(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return fail(ErrorKind::not_found, "PKCS#11 module " + path +
                                          " does not exist (choose one with --module, "
                                          "HWCA_PKCS11_MODULE or module-path= in the URI)");
  }
  count_forks();
  forks_seen_ = forks();
  // Our own handle on the module first: dlerror() says why a load fails, which libp11 hides.
  dl_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (dl_ == nullptr) {
    return fail(ErrorKind::not_found, "cannot load PKCS#11 module " + path + ": " + str(dlerror()));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(dl_, "C_GetFunctionList"));
  if (get_list == nullptr || get_list(&fn_) != CKR_OK || fn_ == nullptr) {
    unload();
    return fail(ErrorKind::not_found, path + " is not a PKCS#11 module (no C_GetFunctionList)");
  }
  // Initialise our handle too: most modules share one state and answer
  // CKR_CRYPTOKI_ALREADY_INITIALIZED to the second caller, but p11-kit's proxy gives every
  // C_GetFunctionList caller its own instance, which unload() then finalises.
  const Gateway gw(fn_, "PKCS#11 module " + path);
  {
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    Rv rv = gw.call(HWCA_CK(C_Initialize), &args);
    we_initialized_ = rv.ok();
    if (!rv && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      fn_ = nullptr;
      unload();
      return rv.error("PKCS#11 module " + path + " failed to initialise");
    }
  }
  path_ = path;
  const std::string file = path.substr(path.rfind('/') + 1);
  max_sessions_ = file == "p11-kit-client.so" ? 1 : 16;
  ctx_ = PKCS11_CTX_new();
  if (ctx_ == nullptr) return fail(ErrorKind::internal, "out of memory creating a libp11 context");
  {
    CallWatch watch("C_Initialize", "PKCS#11 module " + path);
    if (PKCS11_CTX_load(ctx_, path.c_str()) != 0) {
      ERR_clear_error();
      PKCS11_CTX_free(ctx_);
      ctx_ = nullptr;
      unload();
      return fail(ErrorKind::device, "PKCS#11 module " + path + " failed to initialise");
    }
  }
  if (!gw.call(HWCA_CK(C_GetInfo), &library_)) library_ = CK_INFO{};
  CallWatch watch("C_GetSlotList", "PKCS#11 module " + path);
  if (PKCS11_enumerate_slots(ctx_, &slots_, &nslots_) != 0) {
    ERR_clear_error();
    unload();
    return fail(ErrorKind::device, "cannot list the slots of PKCS#11 module " + path);
  }
  return {};
}

void Module::unload() {
  std::map<CK_SLOT_ID, std::shared_ptr<Token>> tokens;
  {
    std::lock_guard lock(mu_);
    tokens.swap(open_tokens_);
  }
  for (auto& [id, token] : tokens) token->close();
  if (ctx_ != nullptr) {
    if (slots_ != nullptr) PKCS11_release_all_slots(ctx_, slots_, nslots_);
    slots_ = nullptr;
    nslots_ = 0;
    PKCS11_CTX_unload(ctx_);
    PKCS11_CTX_free(ctx_);
    ctx_ = nullptr;
  }
  // After libp11's C_Finalize this is a no-op (CKR_CRYPTOKI_NOT_INITIALIZED) for modules
  // with one shared state, and closes our own instance of a per-caller proxy.
  if (fn_ != nullptr && we_initialized_) (void)gateway().call(HWCA_CK(C_Finalize), nullptr);
  we_initialized_ = false;
  fn_ = nullptr;
  if (dl_ != nullptr) ::dlclose(dl_);
  dl_ = nullptr;
}

Result<TokenInfo> Module::init_token(const std::string& label, const SecureString& so_pin,
                                     const SecureString& user_pin) {
  if (auto ok = ensure_this_process(); !ok) return tl::unexpected(ok.error());
  std::lock_guard lock(mu_);
  if (!open_tokens_.empty()) {
    return fail(ErrorKind::internal, "tokens are in use; initialise a token in its own process");
  }
  PKCS11_SLOT* free_slot = nullptr;
  for (unsigned i = 0; i < nslots_; ++i) {
    PKCS11_SLOT* slot = &slots_[i];
    if (slot->token == nullptr) continue;
    if (slot->token->initialized && str(slot->token->label) == label) {
      return fail(ErrorKind::conflict, "a token labelled '" + label + "' already exists in " +
                                           path_ + "; choose another label");
    }
    if (!slot->token->initialized && free_slot == nullptr) free_slot = slot;
  }
  if (free_slot == nullptr) {
    return fail(ErrorKind::not_found, "no uninitialised token in " + path_ +
                                          " (SoftHSM2 always offers one; a hardware token "
                                          "is initialised with its vendor's tools)");
  }
  auto utf8 = [](const SecureString& s) {
    return reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(s.c_str()));
  };
  const Gateway gw = gateway();
  {
    // As libp11's PKCS11_init_token did: the label blank-padded to 32 bytes, the SO PIN up
    // to its first NUL. libp11's slot list does not follow the token anyway (below).
    CK_UTF8CHAR padded[32];
    std::memset(padded, ' ', sizeof padded);
    std::memcpy(padded, label.data(), std::min(label.size(), sizeof padded));
    Rv rv = gw.call(HWCA_CK(C_InitToken), PKCS11_get_slotid_from_slot(free_slot), utf8(so_pin),
                    std::strlen(so_pin.c_str()), padded);
    if (!rv) return rv.error("initialising token '" + label + "' failed");
  }
  // Some modules (SoftHSM2) move a token to a new slot when it is initialised, which
  // libp11 0.4.12 does not follow: find it and set the user PIN with direct calls.
  std::vector<CK_SLOT_ID> ids;
  if (Rv rv = slots_with_token(gw, ids); !rv) {
    return rv.error("cannot list the slots of " + path_);
  }
  std::optional<CK_SLOT_ID> slot_id;
  CK_TOKEN_INFO ti{};
  for (CK_SLOT_ID id : ids) {
    if (gw.call(HWCA_CK(C_GetTokenInfo), id, &ti) && (ti.flags & CKF_TOKEN_INITIALIZED) != 0 &&
        trimmed_field(ti.label, sizeof ti.label) == label) {
      slot_id = id;
      break;
    }
  }
  if (!slot_id) return fail(ErrorKind::device, "the new token '" + label + "' vanished");
  std::string device = "token '" + label + "'";
  // One watch for the whole PIN setting, as a single call: "did not answer C_InitPIN".
  auto seq = Gateway(fn_, device).sequence("C_InitPIN");
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  Rv rv = seq.call(HWCA_CK(C_OpenSession), *slot_id, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                   nullptr, &session);
  if (!rv) return rv.error("cannot open a session on the new " + device);
  rv = seq.call(HWCA_CK(C_Login), session, CKU_SO, utf8(so_pin), so_pin.size());
  if (rv) {
    rv = seq.call(HWCA_CK(C_InitPIN), session, utf8(user_pin), user_pin.size());
    (void)seq.call(HWCA_CK(C_Logout), session);  // best effort: the session closes next
    if (!rv) {
      (void)seq.call(HWCA_CK(C_CloseSession), session);
      return rv.error("setting the user PIN of the new " + device + " failed");
    }
  }
  (void)seq.call(HWCA_CK(C_CloseSession), session);
  if (!rv) return rv.error("security officer login to the new " + device + " failed");
  TokenInfo info;
  info.label = label;
  info.manufacturer = trimmed_field(ti.manufacturerID, sizeof ti.manufacturerID);
  info.model = trimmed_field(ti.model, sizeof ti.model);
  info.serial = trimmed_field(ti.serialNumber, sizeof ti.serialNumber);
  info.slot_id = *slot_id;
  info.uri = token_uri(info.label, info.manufacturer, info.serial, info.model);
  return info;
}

std::vector<TokenInfo> Module::tokens() {
  std::lock_guard lock(mu_);
  std::vector<TokenInfo> out;
  for (unsigned i = 0; i < nslots_; ++i) {
    PKCS11_SLOT* slot = &slots_[i];
    if (slot->token == nullptr || !slot->token->initialized) continue;
    TokenInfo t;
    t.label = str(slot->token->label);
    t.manufacturer = str(slot->token->manufacturer);
    t.model = str(slot->token->model);
    t.serial = str(slot->token->serialnr);
    t.slot_id = PKCS11_get_slotid_from_slot(slot);
    t.flags = token_flags(slot->token);
    t.uri = token_uri(t.label, t.manufacturer, t.serial, t.model);
    out.push_back(std::move(t));
  }
  return out;
}

Result<std::shared_ptr<Token>> Module::find_token(const Pkcs11Uri& uri) {
  std::string lib_manufacturer =
      trimmed_field(library_.manufacturerID, sizeof library_.manufacturerID);
  std::string lib_description =
      trimmed_field(library_.libraryDescription, sizeof library_.libraryDescription);
  std::string lib_version = std::to_string(library_.libraryVersion.major) + "." +
                            std::to_string(library_.libraryVersion.minor);
  auto library_matches = [&] {
    return (!uri.library_manufacturer || *uri.library_manufacturer == lib_manufacturer) &&
           (!uri.library_description || *uri.library_description == lib_description) &&
           (!uri.library_version || *uri.library_version == lib_version ||
            *uri.library_version == std::to_string(library_.libraryVersion.major));
  };

  std::lock_guard lock(mu_);
  std::vector<PKCS11_SLOT*> matches;
  std::string present;
  for (unsigned i = 0; i < nslots_; ++i) {
    PKCS11_SLOT* slot = &slots_[i];
    if (slot->token == nullptr || !slot->token->initialized) continue;
    const PKCS11_TOKEN* t = slot->token;
    if (!present.empty()) present += ", ";
    present.append("'").append(str(t->label)).append("'");
    if (uri.token && *uri.token != str(t->label)) continue;
    if (uri.manufacturer && *uri.manufacturer != str(t->manufacturer)) continue;
    if (uri.serial && *uri.serial != str(t->serialnr)) continue;
    if (uri.model && *uri.model != str(t->model)) continue;
    if (uri.slot_description && *uri.slot_description != str(slot->description)) continue;
    if (uri.slot_manufacturer && *uri.slot_manufacturer != str(slot->manufacturer)) continue;
    if (uri.slot_id && *uri.slot_id != PKCS11_get_slotid_from_slot(slot)) continue;
    if (!library_matches()) continue;
    matches.push_back(slot);
  }
  if (matches.empty()) {
    return fail(ErrorKind::not_found, "no token in " + path_ +
                                          " matches the URI (tokens present: " +
                                          (present.empty() ? std::string("none") : present) + ")");
  }
  if (matches.size() > 1) {
    std::string which;
    for (auto* slot : matches) {
      if (!which.empty()) which += ", ";
      which.append("'").append(str(slot->token->label)).append("' (serial ");
      which.append(str(slot->token->serialnr)).append(")");
    }
    return fail(ErrorKind::conflict, std::to_string(matches.size()) + " tokens match the URI: " +
                                         which + "; add token= or serial= to choose one");
  }
  PKCS11_SLOT* slot = matches.front();
  CK_SLOT_ID id = PKCS11_get_slotid_from_slot(slot);
  if (auto it = open_tokens_.find(id); it != open_tokens_.end()) return it->second;
  TokenInfo info;
  info.label = str(slot->token->label);
  info.manufacturer = str(slot->token->manufacturer);
  info.model = str(slot->token->model);
  info.serial = str(slot->token->serialnr);
  info.slot_id = id;
  info.flags = token_flags(slot->token);
  info.uri = token_uri(info.label, info.manufacturer, info.serial, info.model);
  auto token = std::make_shared<Token>(this, id, std::move(info));
  open_tokens_[id] = token;
  return token;
}

Status Module::reinitialize(uint64_t seen) {
  constexpr auto kRetryInterval = std::chrono::seconds(1);
  std::lock_guard once(reinit_mu_);
  if (generation_.load() != seen) return {};  // done by another thread meanwhile
  const auto now = std::chrono::steady_clock::now();
  if (attempted_ && now - last_attempt_ < kRetryInterval) {
    // One attempt a second, whether the last one failed or the device failed again just
    // after it: a token that keeps failing must not be reinitialised under every request.
    if (last_failure_) return tl::unexpected(*last_failure_);
    return fail(ErrorKind::device, "PKCS#11 module " + path_ +
                                       " failed again within a second of its reinitialisation");
  }
  attempted_ = true;
  last_attempt_ = now;
  auto failed = [&](Error e) {
    last_failure_ = e;
    return tl::unexpected(std::move(e));
  };
  auto use = use_.exclusive(call_timeout());
  if (!use.owns_lock()) {
    return failed(Error{ErrorKind::device, "PKCS#11 module " + path_ +
                                               " cannot be initialised again: calls into it "
                                               "did not return"});
  }
  std::vector<std::shared_ptr<Token>> tokens;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, token] : open_tokens_) tokens.push_back(token);
  }
  for (auto& token : tokens) token->forget_sessions();
  const Gateway gw = gateway();
  (void)gw.call(HWCA_CK(C_Finalize), nullptr);  // a module that lost its device may answer anything
  generation_.fetch_add(1);  // from here on every old session and object handle is void
  attached_ = false;
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  Rv rv = gw.call(HWCA_CK(C_Initialize), &args);
  if (!rv && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    return failed(rv.error("PKCS#11 module " + path_ + " failed to initialise again").value());
  }
  we_initialized_ = rv.ok();
  for (auto& token : tokens) {
    if (auto ok = token->reattach(); !ok) return failed(ok.error());
  }
  attached_ = true;
  last_failure_.reset();
  return {};
}

Status Module::start_in_child() {
  std::lock_guard once(reinit_mu_);
  const uint64_t now_forks = forks();
  if (forks_seen_.load() == now_forks) return {};  // done by another thread of this child
  auto use = use_.exclusive(call_timeout());
  if (!use.owns_lock()) {
    return fail(ErrorKind::device, "PKCS#11 module " + path_ +
                                       " cannot be initialised in this process: calls the "
                                       "parent process had under way hold it");
  }
  // From here on the child owns what it has, whatever happens next: should this fail,
  // the usual recovery (reinitialize) takes over, and may close and finalise what is the
  // child's own.
  forks_seen_ = now_forks;
  attempted_ = false;  // the parent's attempts do not count against the child's
  last_failure_.reset();
  std::vector<std::shared_ptr<Token>> tokens;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, token] : open_tokens_) tokens.push_back(token);
  }
  for (auto& token : tokens) token->abandon_sessions();
  generation_.fetch_add(1);  // object handles found by the parent may be void here
  attached_ = false;
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  // No C_Finalize first: to a module that did not notice the fork it would close the
  // parent's sessions. Such a module answers CKR_CRYPTOKI_ALREADY_INITIALIZED and goes on
  // with its copy of the parent's state; one that noticed starts afresh for this process.
  Rv rv = gateway().call(HWCA_CK(C_Initialize), &args);
  if (!rv && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    return rv.error("PKCS#11 module " + path_ + " failed to initialise in this process");
  }
  if (rv) we_initialized_ = true;
  for (auto& token : tokens) {
    if (auto ok = token->reattach(); !ok) return ok;
  }
  attached_ = true;
  return {};
}

}  // namespace hwca::tokens::pkcs11
