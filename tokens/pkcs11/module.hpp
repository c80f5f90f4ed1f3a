// A loaded PKCS#11 module, one per path and process. libp11 loads it (its own instance)
// and enumerates the slots and tokens at load; nothing else goes through libp11. hwca's own
// instance (dlopen + C_GetFunctionList + C_Initialize; p11-kit's proxy gives every caller
// its own) serves every call: the login, the sessions, the objects, the signatures and
// token initialisation, each through the gateway (gateway.hpp). That instance is what
// reinitialize() finalises and initialises again after a device fault, and what
// ensure_this_process() initialises for a forked child. libp11's slot list is read once;
// it does not follow a token that init_token() moves or a reinitialisation.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/secure_string.hpp"
#include "tokens/keystore.hpp"
#include "tokens/pkcs11/gateway.hpp"
#include "tokens/pkcs11/pkcs11_api.hpp"
#include "tokens/pkcs11/pkcs11_uri.hpp"
#include "tokens/pkcs11/session_pool.hpp"
#include "tokens/pkcs11/token.hpp"

struct PKCS11_ctx_st;
struct PKCS11_slot_st;

namespace hwca::tokens::pkcs11 {

// Which module a URI and options name: module-path=, --module, HWCA_PKCS11_MODULE, else
// p11-kit's proxy.
std::string resolve_module_path(const Pkcs11Uri& uri, const std::string& option);

class Module {
 public:
  static Result<std::shared_ptr<Module>> open(const std::string& path);
  static void close_all();
  ~Module();

  const std::string& path() const { return path_; }
  CK_FUNCTION_LIST* fn() const { return fn_; }
  // The module's own calls (initialisation, token init), named "PKCS#11 module PATH".
  Gateway gateway() const { return Gateway(fn_, "PKCS#11 module " + path_); }

  std::vector<TokenInfo> tokens();
  // The one token the URI selects; an error names the candidates when none or several match.
  Result<std::shared_ptr<Token>> find_token(const Pkcs11Uri& uri);

  // Initialise the first uninitialised token (of libp11's slot list) as `label` (C_InitToken),
  // find it again (it may have moved to another slot), set its user PIN (an SO login and
  // C_InitPIN), and return it.
  Result<TokenInfo> init_token(const std::string& label, const SecureString& so_pin,
                               const SecureString& user_pin);

  // How many sessions a token's pool may open: 16, but 1 for p11-kit's RPC client
  // (p11-kit-client.so, a remote token): its calls go one at a time over one socket anyway,
  // and threads waiting in it for that socket were seen never to return when the server
  // died under them (p11-kit 0.24); waiting in the pool instead is bounded.
  size_t max_sessions() const { return max_sessions_; }

  // Held shared by every session lease (session_pool.hpp), exclusively by reinitialize().
  UseGate& use_gate() { return use_; }
  uint64_t generation() const { return generation_.load(); }
  // False from a reinitialisation until one has attached every token again (found its slot,
  // logged in): meanwhile any failing call is worth another attempt.
  bool attached() const { return attached_.load(); }

  // Recovery after a token call failed as if the device were gone. A remote token (p11-kit's
  // client whose server went away, a network HSM) answers CKR_DEVICE_ERROR to every later
  // call until the module is finalised and initialised again, even once the device is back.
  // This does that on hwca's own instance of the module (libp11's, used only for discovery,
  // is left alone), then lets each open token find its slot again and log in again on a
  // new anchor session (Token::reattach); object handles of the old generation are void, and
  // signers look their keys up again. `seen` is the generation the failed call ran in: if
  // another thread reinitialised since, this returns at once. It waits for the calls in
  // flight (at most the call timeout), and tries at most once a second: meanwhile it
  // returns the last attempt's error (or, after a success, a device error) at once, so a
  // dead device costs no waiting and a failing one is not reinitialised under every call.
  Status reinitialize(uint64_t seen);

  // Ok at once, but in a process forked since the module was last used: then PKCS#11 wants
  // the child to initialise the module for itself, and the sessions and the login it
  // inherited are the parent's. The first use in the child (every entry into a token calls
  // this, holding none of the token's locks) initialises the module again without closing
  // or finalising anything of the parent's (a module that shares state across processes
  // would close the parent's sessions), forgets the inherited sessions, and lets each open
  // token log in again on a session of its own (Token::reattach). The call watchdog starts
  // again by itself (call_watch.cpp). A fork while another thread is inside a token call
  // leaves that call's locks taken in the child, which then waits for them (at most the call
  // timeout, for the use lock): fork from a thread that is not using a token meanwhile.
  Status ensure_this_process() {
    if (forks_seen_.load(std::memory_order_acquire) == forks()) return {};
    return start_in_child();
  }

 private:
  // How many times this process, and the processes it was forked from, forked a child
  // (counted in the child).
  static uint64_t forks();
  Status start_in_child();

  Module() = default;
  Status load(const std::string& path);
  void unload();

  std::string path_;
  PKCS11_ctx_st* ctx_ = nullptr;
  PKCS11_slot_st* slots_ = nullptr;
  unsigned int nslots_ = 0;
  void* dl_ = nullptr;
  CK_FUNCTION_LIST* fn_ = nullptr;
  bool we_initialized_ = false;
  CK_INFO library_{};
  size_t max_sessions_ = 16;
  std::mutex mu_;
  std::map<CK_SLOT_ID, std::shared_ptr<Token>> open_tokens_;

  UseGate use_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> attached_{true};
  std::atomic<uint64_t> forks_seen_{0};  // forks() when the module became this process's
  std::mutex reinit_mu_;                 // one reinitialisation at a time; guards the two below
  bool attempted_ = false;
  std::chrono::steady_clock::time_point last_attempt_{};
  std::optional<Error> last_failure_;
};

}  // namespace hwca::tokens::pkcs11
