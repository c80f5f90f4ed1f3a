// Provider entry points: OSSL_provider_init (loadable module hwca.so) and
// hwca_provider_init (built into the hwca binary), the algorithm tables and teardown.
#include "providers/provider.hpp"

#include <openssl/params.h>

#include "providers/dispatch.hpp"
#include "providers/provider_init.h"
#include "tokens/call_watch.hpp"
#include "tokens/registry.hpp"

namespace hwca::provider {
namespace {

// The dispatched functions, declared with OpenSSL's types so that the compiler checks them.
extern "C" {
OSSL_FUNC_provider_query_operation_fn hwca_query;
OSSL_FUNC_provider_get_reason_strings_fn hwca_reasons;
OSSL_FUNC_provider_gettable_params_fn hwca_gettable_params;
OSSL_FUNC_provider_get_params_fn hwca_get_params;
OSSL_FUNC_provider_teardown_fn hwca_teardown;
}

const OSSL_ALGORITHM kKeymgmt[] = {{"RSA:rsaEncryption:1.2.840.113549.1.1.1", kProps,
                                    hwca_rsa_keymgmt_functions, "RSA keys held in a PKCS#11 token"},
                                   {"EC:id-ecPublicKey:1.2.840.10045.2.1", kProps,
                                    hwca_ec_keymgmt_functions, "EC keys held in a PKCS#11 token"},
                                   {nullptr, nullptr, nullptr, nullptr}};

const OSSL_ALGORITHM kSignature[] = {
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", kProps, hwca_rsa_signature_functions,
     "RSA PKCS#1 v1.5 and PSS signatures made in a token"},
    {"ECDSA", kProps, hwca_ecdsa_signature_functions, "ECDSA signatures made in a token"},
    {nullptr, nullptr, nullptr, nullptr}};

const OSSL_ALGORITHM kStore[] = {
    {"pkcs11", kProps, hwca_store_functions, "keys in PKCS#11 tokens by RFC 7512 URI"},
    {"tpm2", kProps, hwca_store_functions, "keys in a TPM 2.0 by tpm2:file= or tpm2:handle= URI"},
    {nullptr, nullptr, nullptr, nullptr}};

#define HWCA_REASON(kind, text)                                                      \
  {                                                                                  \
    static_cast<unsigned long>(kReasonKindBase + static_cast<int>(ErrorKind::kind)), \
        const_cast<char*>(text)                                                      \
  }
const OSSL_ITEM kReasons[] = {
    HWCA_REASON(usage, "bad request"),          HWCA_REASON(not_found, "not found"),
    HWCA_REASON(auth, "authentication failed"), HWCA_REASON(device, "token error"),
    HWCA_REASON(conflict, "conflict"),          HWCA_REASON(io, "i/o error"),
    HWCA_REASON(internal, "internal error"),    {0, nullptr}};
#undef HWCA_REASON

const OSSL_PARAM kGettable[] = {OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_NAME, nullptr, 0),
                                OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_VERSION, nullptr, 0),
                                OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, nullptr, 0),
                                OSSL_PARAM_int(OSSL_PROV_PARAM_STATUS, nullptr), OSSL_PARAM_END};

extern "C" const OSSL_ALGORITHM* hwca_query(void*, int operation_id, int* no_cache) {
  *no_cache = 0;
  switch (operation_id) {
    case OSSL_OP_KEYMGMT:
      return kKeymgmt;
    case OSSL_OP_SIGNATURE:
      return kSignature;
    case OSSL_OP_STORE:
      return kStore;
    default:
      return nullptr;
  }
}

extern "C" const OSSL_ITEM* hwca_reasons(void*) { return kReasons; }

extern "C" const OSSL_PARAM* hwca_gettable_params(void*) { return kGettable; }

extern "C" int hwca_get_params(void*, OSSL_PARAM params[]) {
  OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
  if (p != nullptr && OSSL_PARAM_set_utf8_ptr(p, "hwca: keys in hardware tokens") != 1) return 0;
  p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
  if (p != nullptr && OSSL_PARAM_set_utf8_ptr(p, HWCA_VERSION) != 1) return 0;
  p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO);
  if (p != nullptr && OSSL_PARAM_set_utf8_ptr(p, HWCA_VERSION) != 1) return 0;
  p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
  if (p != nullptr && OSSL_PARAM_set_int(p, 1) != 1) return 0;
  return 1;
}

// Teardown runs inside OPENSSL_cleanup(), when OpenSSL is half gone; token modules that use
// OpenSSL themselves (SoftHSM) crash if called now. So the tokens are left as they are
// (the process is ending and the OS closes its sessions); only our watchdog thread stops.
// The hwca command shuts the tokens down properly before it exits.
extern "C" void hwca_teardown(void* provctx) {
  auto* ctx = static_cast<ProvCtx*>(provctx);
  if (ctx != nullptr && ctx->owns_tokens) tokens::stop_call_watchdog();
  delete ctx;
}

const OSSL_DISPATCH kProviderFunctions[] = {
    HWCA_DISPATCH(provider, QUERY_OPERATION, query_operation, hwca_query),
    HWCA_DISPATCH(provider, GET_REASON_STRINGS, get_reason_strings, hwca_reasons),
    HWCA_DISPATCH(provider, GETTABLE_PARAMS, gettable_params, hwca_gettable_params),
    HWCA_DISPATCH(provider, GET_PARAMS, get_params, hwca_get_params),
    HWCA_DISPATCH(provider, TEARDOWN, teardown, hwca_teardown),
    {0, nullptr}};

}  // namespace

int init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in, const OSSL_DISPATCH** out,
         void** provctx, bool owns_tokens) {
  try {
    auto ctx = std::make_unique<ProvCtx>();
    ctx->handle = handle;
    ctx->owns_tokens = owns_tokens;
    OSSL_FUNC_core_get_params_fn* get_params = nullptr;
    OSSL_FUNC_core_get_libctx_fn* get_libctx = nullptr;
    for (; in != nullptr && in->function_id != 0; ++in) {
      switch (in->function_id) {
        case OSSL_FUNC_CORE_GET_PARAMS:
          get_params = OSSL_FUNC_core_get_params(in);
          break;
        case OSSL_FUNC_CORE_GET_LIBCTX:
          get_libctx = OSSL_FUNC_core_get_libctx(in);
          break;
        case OSSL_FUNC_CORE_NEW_ERROR:
          ctx->new_error = OSSL_FUNC_core_new_error(in);
          break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
          ctx->set_error_debug = OSSL_FUNC_core_set_error_debug(in);
          break;
        case OSSL_FUNC_CORE_VSET_ERROR:
          ctx->vset_error = OSSL_FUNC_core_vset_error(in);
          break;
        default:
          break;
      }
    }
    if (get_libctx != nullptr) {
      ctx->libctx = reinterpret_cast<OSSL_LIB_CTX*>(get_libctx(handle));
    }
    if (get_params != nullptr) {
      // Optional keys of the provider's section in openssl.cnf.
      char* module = nullptr;
      char* pin_source = nullptr;
      char* tcti = nullptr;
      OSSL_PARAM params[] = {OSSL_PARAM_utf8_ptr(kParamPkcs11Module, &module, 0),
                             OSSL_PARAM_utf8_ptr(kParamPinSource, &pin_source, 0),
                             OSSL_PARAM_utf8_ptr(kParamTpm2Tcti, &tcti, 0), OSSL_PARAM_END};
      if (get_params(handle, params) == 1) {
        if (module != nullptr) ctx->defaults.module = module;
        if (pin_source != nullptr) ctx->defaults.default_pin_source = pin_source;
        if (tcti != nullptr) ctx->defaults.tcti = tcti;
      }
    }
    *out = kProviderFunctions;
    *provctx = ctx.release();
    return 1;
  } catch (...) {
    return 0;
  }
}

}  // namespace hwca::provider

extern "C" int hwca_provider_init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in,
                                  const OSSL_DISPATCH** out, void** provctx) {
  return hwca::provider::init(handle, in, out, provctx, false);
}
