// hwca_fault_pkcs11: a PKCS#11 module for tests that loads a real module (SoftHSM2),
// forwards every call to it, and fails, delays or disturbs the calls its control file
// names (README.md in this folder). Exports C_GetFunctionList and one counter.
#include <dlfcn.h>
#include <sys/stat.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "fault_rules.hpp"

#define HWCA_FAULT_EXPORT extern "C" __attribute__((visibility("default")))

namespace hwca::test::fault {
namespace {

constexpr const char* kDefaultModule = "/usr/lib/softhsm/libsofthsm2.so";

CK_FUNCTION_LIST* g_real = nullptr;
CK_FUNCTION_LIST g_list{};
CK_RV g_load_rv = CKR_OK;
std::string g_control;  // the control file's path; empty: no faults
std::array<std::atomic<unsigned long>, 16> g_injected{};

// The control file's rules, read again when the file changes (another inode, size or
// modification time: FaultControl replaces it with a rename).
class Control {
 public:
  std::shared_ptr<std::vector<Rule>> rules() {
    struct stat st {};
    bool present = !g_control.empty() && ::stat(g_control.c_str(), &st) == 0;
    std::lock_guard lock(mu_);
    Version v{present, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec};
    if (rules_ && v == version_) return rules_;
    version_ = v;
    auto rules = std::make_shared<std::vector<Rule>>();
    if (present) {
      std::ifstream in(g_control);
      std::stringstream text;
      text << in.rdbuf();
      Parsed parsed = parse_rules(text.str());
      for (const auto& e : parsed.errors) {
        std::fprintf(stderr, "hwca_fault_pkcs11: %s: %s (ignored)\n", g_control.c_str(), e.c_str());
      }
      *rules = std::move(parsed.rules);
    }
    rules_ = rules;
    return rules_;
  }

 private:
  struct Version {
    bool present = false;
    ino_t ino = 0;
    off_t size = 0;
    time_t sec = 0;
    long nsec = 0;
    bool operator==(const Version&) const = default;
  };
  std::mutex mu_;
  Version version_;
  std::shared_ptr<std::vector<Rule>> rules_;
};

Control& control() {
  static auto* c = new Control();
  return *c;
}

std::vector<CK_SLOT_ID> real_slots() {
  CK_ULONG n = 0;
  if (g_real->C_GetSlotList(CK_TRUE, nullptr, &n) != CKR_OK) return {};
  std::vector<CK_SLOT_ID> ids(n);
  if (g_real->C_GetSlotList(CK_TRUE, ids.data(), &n) != CKR_OK) return {};
  ids.resize(n);
  return ids;
}

// Intercepted calls reach the real module holding this shared; logout and close-sessions
// hold it exclusively, so that they happen between calls, as a device reset would: SoftHSM2
// frees a key's material at C_Logout, under a C_Sign of another thread if there is one.
// Once a disturbance waits, new calls wait behind it (std::shared_mutex alone may let a
// steady stream of calls starve it).
class CallGate {
 public:
  std::shared_lock<std::shared_mutex> call() {
    std::lock_guard gate(gate_);
    return std::shared_lock(calls_);
  }
  std::unique_lock<std::shared_mutex> alone() {
    std::lock_guard gate(gate_);
    return std::unique_lock(calls_);
  }

 private:
  std::mutex gate_;
  std::shared_mutex calls_;
};

CallGate& gate() {
  static auto* g = new CallGate();
  return *g;
}

// What the real module is made to do: lose the login of every session (C_Logout on a
// session of its own), or close every session.
void disturb(Action action) {
  auto alone = gate().alone();
  for (CK_SLOT_ID slot : real_slots()) {
    if (action == Action::close_sessions) {
      g_real->C_CloseAllSessions(slot);
      continue;
    }
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    if (g_real->C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &h) != CKR_OK) continue;
    g_real->C_Logout(h);
    g_real->C_CloseSession(h);
  }
}

void count(const char* fn) {
  size_t i = intercepted_index(fn);
  if (i < g_injected.size()) g_injected[i].fetch_add(1);
}

// What happens before `fn` is forwarded: CKR_OK to forward it, else the return code to
// give instead. `empty` is set when a C_FindObjects should find nothing.
CK_RV before(const char* fn, bool* empty = nullptr) {
  auto rules = control().rules();
  if (rules->empty()) return CKR_OK;
  const double now = unix_now();
  for (Rule& r : *rules) {
    if (!r.applies_to(fn) || !r.active(now) || !r.past_after()) continue;
    switch (r.action) {
      case Action::delay:
        if (r.take()) std::this_thread::sleep_for(std::chrono::milliseconds(r.delay_ms));
        break;
      case Action::logout:
      case Action::close_sessions:
        if (r.take()) {
          count(fn);
          disturb(r.action);
        }
        break;
      case Action::empty:
        if (empty != nullptr && r.take()) {
          count(fn);
          *empty = true;
          return CKR_OK;
        }
        break;
      case Action::fail:
        if (r.take()) {
          count(fn);
          return r.rv;
        }
        break;
    }
  }
  return CKR_OK;
}

CK_RV w_Initialize(void* args) {
  if (CK_RV rv = before("C_Initialize"); rv != CKR_OK) return rv;
  auto in = gate().call();
  return g_real->C_Initialize(args);
}

CK_RV w_GetSlotList(CK_BBOOL present, CK_SLOT_ID* list, CK_ULONG* n) {
  if (CK_RV rv = before("C_GetSlotList"); rv != CKR_OK) return rv;
  auto in = gate().call();
  return g_real->C_GetSlotList(present, list, n);
}

CK_RV w_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO* info) {
  if (CK_RV rv = before("C_GetTokenInfo"); rv != CKR_OK) return rv;
  auto in = gate().call();
  return g_real->C_GetTokenInfo(slot, info);
}

CK_RV w_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, void* app, CK_NOTIFY notify,
                    CK_SESSION_HANDLE* h) {
  if (CK_RV rv = before("C_OpenSession"); rv != CKR_OK) return rv;
  auto in = gate().call();
  return g_real->C_OpenSession(slot, flags, app, notify, h);
}

CK_RV w_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO* info) {
  if (CK_RV rv = before("C_GetSessionInfo"); rv != CKR_OK) return rv;
  auto in = gate().call();
  return g_real->C_GetSessionInfo(h, info);
}

CK_RV w_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR* pin, CK_ULONG len) {
  if (CK_RV rv = before("C_Login"); rv != CKR_OK) return rv;
  auto in = gate().call();
  return g_real->C_Login(h, user, pin, len);
}

CK_RV w_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE* tmpl, CK_ULONG n) {
  if (CK_RV rv = before("C_FindObjectsInit"); rv != CKR_OK) return rv;
  auto in = gate().call();
  return g_real->C_FindObjectsInit(h, tmpl, n);
}

CK_RV w_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE* out, CK_ULONG max, CK_ULONG* n) {
  bool empty = false;
  if (CK_RV rv = before("C_FindObjects", &empty); rv != CKR_OK) return rv;
  if (empty) {
    *n = 0;
    return CKR_OK;
  }
  auto in = gate().call();
  return g_real->C_FindObjects(h, out, max, n);
}

CK_RV w_FindObjectsFinal(CK_SESSION_HANDLE h) {
  if (CK_RV rv = before("C_FindObjectsFinal"); rv != CKR_OK) return rv;
  auto in = gate().call();
  return g_real->C_FindObjectsFinal(h);
}

CK_RV w_CloseSession(CK_SESSION_HANDLE h) {
  if (CK_RV rv = before("C_CloseSession"); rv != CKR_OK) return rv;
  auto in = gate().call();
  return g_real->C_CloseSession(h);
}

CK_RV w_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE* tmpl,
                          CK_ULONG n) {
  if (CK_RV rv = before("C_GetAttributeValue"); rv != CKR_OK) return rv;
  auto in = gate().call();
  return g_real->C_GetAttributeValue(h, obj, tmpl, n);
}

CK_RV w_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM* mech, CK_OBJECT_HANDLE key) {
  if (CK_RV rv = before("C_SignInit"); rv != CKR_OK) return rv;
  auto in = gate().call();
  return g_real->C_SignInit(h, mech, key);
}

CK_RV w_Sign(CK_SESSION_HANDLE h, CK_BYTE* data, CK_ULONG len, CK_BYTE* sig, CK_ULONG* sig_len) {
  CK_RV injected = before("C_Sign");
  auto in = gate().call();
  if (CK_RV rv = injected; rv != CKR_OK) {
    // A failed C_Sign ends the operation (PKCS#11 5.12): end the real one too, as a
    // device that failed mid-signature would, so the session is usable again.
    CK_ULONG need = 0;
    if (g_real->C_Sign(h, data, len, nullptr, &need) == CKR_OK) {
      std::vector<CK_BYTE> scratch(need);
      g_real->C_Sign(h, data, len, scratch.data(), &need);
    }
    return rv;
  }
  return g_real->C_Sign(h, data, len, sig, sig_len);
}

CK_RV w_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM* mech, CK_ATTRIBUTE* pub, CK_ULONG npub,
                        CK_ATTRIBUTE* priv, CK_ULONG npriv, CK_OBJECT_HANDLE* hpub,
                        CK_OBJECT_HANDLE* hpriv) {
  if (CK_RV rv = before("C_GenerateKeyPair"); rv != CKR_OK) return rv;
  auto in = gate().call();
  return g_real->C_GenerateKeyPair(h, mech, pub, npub, priv, npriv, hpub, hpriv);
}

CK_RV load() {
  const char* path = std::getenv("HWCA_FAULT_PKCS11_MODULE");
  if (path == nullptr || *path == '\0') path = kDefaultModule;
  if (const char* c = std::getenv("HWCA_FAULT_PKCS11_CONTROL"); c != nullptr) g_control = c;
  // Never closed: the real module lives as long as the process.
  void* dl = ::dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (dl == nullptr) {
    std::fprintf(stderr, "hwca_fault_pkcs11: cannot load %s: %s\n", path, ::dlerror());
    return CKR_GENERAL_ERROR;
  }
  auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(dl, "C_GetFunctionList"));
  if (get == nullptr || get(&g_real) != CKR_OK || g_real == nullptr) {
    std::fprintf(stderr, "hwca_fault_pkcs11: %s is not a PKCS#11 module\n", path);
    return CKR_GENERAL_ERROR;
  }
  g_list = *g_real;  // every call not intercepted below goes straight to the real module
  g_list.C_GetFunctionList = &C_GetFunctionList;
  g_list.C_Initialize = &w_Initialize;
  g_list.C_GetSlotList = &w_GetSlotList;
  g_list.C_GetTokenInfo = &w_GetTokenInfo;
  g_list.C_OpenSession = &w_OpenSession;
  g_list.C_CloseSession = &w_CloseSession;
  g_list.C_FindObjectsFinal = &w_FindObjectsFinal;
  g_list.C_GetSessionInfo = &w_GetSessionInfo;
  g_list.C_Login = &w_Login;
  g_list.C_FindObjectsInit = &w_FindObjectsInit;
  g_list.C_FindObjects = &w_FindObjects;
  g_list.C_GetAttributeValue = &w_GetAttributeValue;
  g_list.C_SignInit = &w_SignInit;
  g_list.C_Sign = &w_Sign;
  g_list.C_GenerateKeyPair = &w_GenerateKeyPair;
  return CKR_OK;
}

}  // namespace
}  // namespace hwca::test::fault

HWCA_FAULT_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  using namespace hwca::test::fault;
  static std::once_flag once;
  std::call_once(once, [] { g_load_rv = load(); });
  if (g_load_rv != CKR_OK) return g_load_rv;
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  *list = &g_list;
  return CKR_OK;
}

// How many calls a rule has failed, emptied or disturbed since the module was loaded: of
// `function` ("C_Sign"), or of all intercepted functions when it is null.
HWCA_FAULT_EXPORT unsigned long hwca_fault_pkcs11_injected(const char* function) {
  using namespace hwca::test::fault;
  unsigned long total = 0;
  for (size_t i = 0; i < kInterceptedCount; ++i) {
    if (function == nullptr || std::string(function) == kIntercepted[i]) {
      total += g_injected[i].load();
    }
  }
  return total;
}
