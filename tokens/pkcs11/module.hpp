// A loaded PKCS#11 module. libp11 loads it, enumerates slots and logs in; the same module's
// function list (dlopen + C_GetFunctionList, no second C_Initialize) serves the calls
// libp11 0.4.12 lacks. One Module per path and process.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/secure_string.hpp"
#include "tokens/keystore.hpp"
#include "tokens/pkcs11/pkcs11_api.hpp"
#include "tokens/pkcs11/pkcs11_uri.hpp"
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

  std::vector<TokenInfo> tokens();
  // The one token the URI selects; an error names the candidates when none or several match.
  Result<std::shared_ptr<Token>> find_token(const Pkcs11Uri& uri);

  // Initialise the first uninitialised token as `label`, set its user PIN (libp11
  // PKCS11_init_token, an SO login and PKCS11_init_pin), and return it.
  Result<TokenInfo> init_token(const std::string& label, const SecureString& so_pin,
                               const SecureString& user_pin);

  // libp11 is not thread-safe for discovery and login: hold this around such calls.
  std::mutex& libp11_mutex() { return mu_; }

 private:
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
  std::mutex mu_;
  std::map<CK_SLOT_ID, std::shared_ptr<Token>> open_tokens_;
};

}  // namespace hwca::tokens::pkcs11
