// The hwca OpenSSL 3 provider: shared declarations for its operation files.
// Every dispatch function is a C callback: no exception may leave one; failures raise an
// OpenSSL error naming the cause and return 0.
#pragma once

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "common/ossl.hpp"
#include "common/result.hpp"
#include "providers/provider_init.h"
#include "tokens/keystore.hpp"

namespace hwca::provider {

inline constexpr const char* kName = "hwca";
inline constexpr const char* kProps = "provider=hwca";

// Keys of the provider's openssl.cnf section (its STORE parameters: store_params.hpp).
inline constexpr const char* kParamPinSource = HWCA_PARAM_PIN_SOURCE;
inline constexpr const char* kParamPkcs11Module = HWCA_PARAM_PKCS11_MODULE;
inline constexpr const char* kParamTpm2Tcti = HWCA_PARAM_TPM2_TCTI;

struct ProvCtx {
  const OSSL_CORE_HANDLE* handle = nullptr;
  OSSL_LIB_CTX* libctx = nullptr;  // the library context this instance lives in
  // From the provider's openssl.cnf section: module (pkcs11-module), tcti (tpm2-tcti) and
  // default_pin_source (its pin-source key: used after the URI's); each may be empty. A
  // STORE starts from these.
  tokens::OpenOptions defaults;
  bool owns_tokens = false;  // loaded as a module: shut the tokens down in teardown
  OSSL_FUNC_core_new_error_fn* new_error = nullptr;
  OSSL_FUNC_core_set_error_debug_fn* set_error_debug = nullptr;
  OSSL_FUNC_core_vset_error_fn* vset_error = nullptr;

  // The digests hwca signs with ("SHA256", "SHA384", "SHA512"), fetched once from this
  // instance's library context (whichever provider offers them there); null if unknown.
  const EVP_MD* digest(const std::string& canonical_name);
  ~ProvCtx();

 private:
  std::once_flag digests_once_;
  EVP_MD* sha256_ = nullptr;
  EVP_MD* sha384_ = nullptr;
  EVP_MD* sha512_ = nullptr;
};

// A key as the provider holds it: the public half (default provider) and, for keys loaded
// from a store, the signer that reaches the private half in the device.
struct Key {
  std::shared_ptr<tokens::Signer> signer;  // null for a public key imported for comparison
  ossl::Ptr<EVP_PKEY> pub;
  bool rsa = false;

  Key copy() const;
};

// Reason codes: kReasonKindBase + hwca::ErrorKind, so that a caller of OpenSSL (the CA core)
// gets back the kind of failure, not only its text.
inline constexpr int kReasonKindBase = HWCA_REASON_KIND_BASE;
inline constexpr int kReasonUsage = kReasonKindBase + static_cast<int>(ErrorKind::usage);
inline constexpr int kReasonToken = kReasonKindBase + static_cast<int>(ErrorKind::device);
inline constexpr int kReasonInternal = kReasonKindBase + static_cast<int>(ErrorKind::internal);

// Raise an OpenSSL error from this provider with a one-line message.
void raise(const ProvCtx* ctx, int reason, const std::string& message);
void raise(const ProvCtx* ctx, const Error& error);

// Run a dispatch function's body; an exception becomes an OpenSSL error and `on_error`.
template <typename F>
auto guarded(const ProvCtx* ctx, decltype(std::declval<F>()()) on_error, F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    raise(ctx, kReasonInternal, e.what());
  } catch (...) {
    raise(ctx, kReasonInternal, "unexpected failure");
  }
  return on_error;
}

// Provider initialisation; `owns_tokens` when loaded as a module (teardown closes tokens).
int init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in, const OSSL_DISPATCH** out,
         void** provctx, bool owns_tokens);

}  // namespace hwca::provider

extern "C" {
extern const OSSL_DISPATCH hwca_rsa_keymgmt_functions[];
extern const OSSL_DISPATCH hwca_ec_keymgmt_functions[];
extern const OSSL_DISPATCH hwca_rsa_signature_functions[];
extern const OSSL_DISPATCH hwca_ecdsa_signature_functions[];
extern const OSSL_DISPATCH hwca_store_functions[];
}
