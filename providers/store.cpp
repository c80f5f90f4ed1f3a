// STORE for key URIs (pkcs11:, tpm2:; every scheme the tokens registry knows). Loading a
// private key hands OpenSSL a reference to a provider Key, which KEYMGMT load turns back
// into a key; type=public yields the public key as SubjectPublicKeyInfo DER.
#include <openssl/core_object.h>
#include <openssl/params.h>

#include <cstring>

#include "common/uri.hpp"
#include "providers/dispatch.hpp"
#include "providers/provider.hpp"
#include "providers/store_params.hpp"
#include "tokens/registry.hpp"

using hwca::provider::guarded;
using hwca::provider::Key;
using hwca::provider::ProvCtx;
namespace ossl = hwca::ossl;
namespace tokens = hwca::tokens;

namespace {

// The dispatched functions, declared with OpenSSL's types so that the compiler checks them.
extern "C" {
OSSL_FUNC_store_open_fn hwca_store_open;
OSSL_FUNC_store_settable_ctx_params_fn hwca_store_settable_ctx_params;
OSSL_FUNC_store_set_ctx_params_fn hwca_store_set_ctx_params;
OSSL_FUNC_store_load_fn hwca_store_load;
OSSL_FUNC_store_eof_fn hwca_store_eof;
OSSL_FUNC_store_close_fn hwca_store_close;
}

struct StoreCtx {
  ProvCtx* prov = nullptr;
  std::string uri;
  // The provider's defaults (openssl.cnf), then what the caller sets (set_ctx_params). The
  // prompt is set when loading, from OpenSSL's passphrase callback.
  tokens::OpenOptions options;
  // How the user gives a PIN: the openssl command's ways unless the caller says (hwca does).
  std::string pin_hint =
      "pin-source=env:NAME|file:PATH in the URI or in the provider's openssl.cnf section, "
      "-passin, or a terminal";
  bool done = false;
};

// A PIN prompt through OpenSSL's passphrase callback (the openssl command's -passin or its
// terminal prompt; the hwca command's --pin-source).
hwca::PinCallback prompt_through(OSSL_PASSPHRASE_CALLBACK* cb, void* cbarg,
                                 const std::string& hint) {
  if (cb == nullptr) return {};
  return [cb, cbarg, hint](const std::string& prompt) -> hwca::Result<hwca::SecureString> {
    char buf[257];
    size_t len = 0;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PASSPHRASE_PARAM_INFO, const_cast<char*>(prompt.c_str()), 0),
        OSSL_PARAM_END};
    if (cb(buf, sizeof buf - 1, &len, params, cbarg) != 1 || len == 0) {
      OPENSSL_cleanse(buf, sizeof buf);
      return hwca::fail(hwca::ErrorKind::auth,
                        prompt + " is needed and none was given: use " + hint);
    }
    hwca::SecureString pin(std::string_view(buf, len));
    OPENSSL_cleanse(buf, sizeof buf);
    return pin;
  };
}

int load_public(StoreCtx* ctx, EVP_PKEY* pub, OSSL_CALLBACK* object_cb, void* object_cbarg) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pub, &der);
  if (len <= 0) return 0;
  int type = OSSL_OBJECT_PKEY;
  const char* data_type = EVP_PKEY_is_a(pub, "RSA") ? "RSA" : "EC";
  OSSL_PARAM params[] = {
      OSSL_PARAM_int(OSSL_OBJECT_PARAM_TYPE, &type),
      OSSL_PARAM_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, const_cast<char*>(data_type), 0),
      OSSL_PARAM_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE,
                             const_cast<char*>("SubjectPublicKeyInfo"), 0),
      OSSL_PARAM_octet_string(OSSL_OBJECT_PARAM_DATA, der, static_cast<size_t>(len)),
      OSSL_PARAM_END};
  int ok = object_cb(params, object_cbarg);
  OPENSSL_free(der);
  (void)ctx;
  return ok;
}

int load(StoreCtx* ctx, OSSL_CALLBACK* object_cb, void* object_cbarg,
         OSSL_PASSPHRASE_CALLBACK* pw_cb, void* pw_cbarg) {
  ctx->done = true;  // one object per URI, whatever happens
  tokens::OpenOptions options = ctx->options;
  options.pin_prompt = prompt_through(pw_cb, pw_cbarg, ctx->pin_hint);
  // The one place the URI's text is read on its way to a signature; from here on it goes
  // parsed (tokens/keystore.hpp).
  auto uri = hwca::parse_uri(ctx->uri);
  if (!uri) {
    hwca::provider::raise(ctx->prov, uri.error());
    return 0;
  }
  auto store = tokens::open_store(*uri, options);
  if (!store) {
    hwca::provider::raise(ctx->prov, store.error());
    return 0;
  }
  if (uri->path_attr("type") == "public") {
    for (auto& [k, v] : uri->path) {
      if (k == "type") v = "private";
    }
    auto pub = (*store)->get_public_key(*uri);
    if (!pub) {
      hwca::provider::raise(ctx->prov, pub.error());
      return 0;
    }
    return load_public(ctx, pub->get(), object_cb, object_cbarg);
  }
  auto signer = (*store)->create_signer(*uri);
  if (!signer) {
    hwca::provider::raise(ctx->prov, signer.error());
    return 0;
  }
  Key key;
  key.signer = *signer;
  key.rsa = EVP_PKEY_is_a((*signer)->public_key(), "RSA") == 1;
  EVP_PKEY_up_ref((*signer)->public_key());
  key.pub.reset((*signer)->public_key());
  Key* ref = &key;
  int type = OSSL_OBJECT_PKEY;
  const char* data_type = key.rsa ? "RSA" : "EC";
  OSSL_PARAM params[] = {
      OSSL_PARAM_int(OSSL_OBJECT_PARAM_TYPE, &type),
      OSSL_PARAM_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, const_cast<char*>(data_type), 0),
      // The reference is the pointer itself; KEYMGMT load copies the key it points to.
      OSSL_PARAM_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &ref,
                              sizeof ref),  // NOLINT(bugprone-sizeof-expression)
      OSSL_PARAM_END};
  return object_cb(params, object_cbarg);
}

extern "C" void* hwca_store_open(void* provctx, const char* uri) {
  auto* prov = static_cast<ProvCtx*>(provctx);
  return guarded(prov, static_cast<void*>(nullptr), [&]() -> void* {
    auto* ctx = new StoreCtx();
    ctx->prov = prov;
    ctx->uri = uri;
    ctx->options = prov->defaults;
    return ctx;
  });
}

extern "C" const OSSL_PARAM* hwca_store_settable_ctx_params(void*) {
  return hwca::provider::settable_store_params();
}

extern "C" int hwca_store_set_ctx_params(void* vctx, const OSSL_PARAM params[]) {
  auto* ctx = static_cast<StoreCtx*>(vctx);
  return guarded(ctx->prov, 0, [&] {
    return hwca::provider::from_store_params(params, ctx->options, ctx->pin_hint) ? 1 : 0;
  });
}

extern "C" int hwca_store_load(void* vctx, OSSL_CALLBACK* object_cb, void* object_cbarg,
                               OSSL_PASSPHRASE_CALLBACK* pw_cb, void* pw_cbarg) {
  auto* ctx = static_cast<StoreCtx*>(vctx);
  if (ctx->done) return 0;
  return guarded(ctx->prov, 0, [&] { return load(ctx, object_cb, object_cbarg, pw_cb, pw_cbarg); });
}

extern "C" int hwca_store_eof(void* vctx) { return static_cast<StoreCtx*>(vctx)->done ? 1 : 0; }

extern "C" int hwca_store_close(void* vctx) {
  delete static_cast<StoreCtx*>(vctx);
  return 1;
}

}  // namespace

extern "C" const OSSL_DISPATCH hwca_store_functions[] = {
    HWCA_DISPATCH(store, OPEN, open, hwca_store_open),
    HWCA_DISPATCH(store, SETTABLE_CTX_PARAMS, settable_ctx_params, hwca_store_settable_ctx_params),
    HWCA_DISPATCH(store, SET_CTX_PARAMS, set_ctx_params, hwca_store_set_ctx_params),
    HWCA_DISPATCH(store, LOAD, load, hwca_store_load),
    HWCA_DISPATCH(store, EOF, eof, hwca_store_eof),
    HWCA_DISPATCH(store, CLOSE, close, hwca_store_close),
    {0, nullptr}};
