// KEYMGMT for RSA and EC keys. The public half lives in an EVP_PKEY of the default provider,
// and public operations are delegated to it; the private half is only ever a Signer.
// Export of private material always fails, which also makes OpenSSL 3.0 come back to this
// provider's SIGNATURE instead of signing elsewhere.
#include <openssl/params.h>

#include "providers/dispatch.hpp"
#include "providers/provider.hpp"

using hwca::provider::Key;
using hwca::provider::ProvCtx;

namespace {

// The dispatched functions, declared with OpenSSL's types so that the compiler checks them.
extern "C" {
OSSL_FUNC_keymgmt_new_fn hwca_rsa_keymgmt_new, hwca_ec_keymgmt_new;
OSSL_FUNC_keymgmt_free_fn hwca_keymgmt_free;
OSSL_FUNC_keymgmt_load_fn hwca_rsa_keymgmt_load, hwca_ec_keymgmt_load;
OSSL_FUNC_keymgmt_dup_fn hwca_keymgmt_dup;
OSSL_FUNC_keymgmt_has_fn hwca_keymgmt_has;
OSSL_FUNC_keymgmt_match_fn hwca_keymgmt_match;
OSSL_FUNC_keymgmt_import_fn hwca_rsa_keymgmt_import, hwca_ec_keymgmt_import;
OSSL_FUNC_keymgmt_import_types_fn hwca_rsa_keymgmt_io_types, hwca_ec_keymgmt_io_types;
OSSL_FUNC_keymgmt_export_fn hwca_keymgmt_export;
OSSL_FUNC_keymgmt_get_params_fn hwca_keymgmt_get_params;
OSSL_FUNC_keymgmt_gettable_params_fn hwca_rsa_keymgmt_gettable_params,
    hwca_ec_keymgmt_gettable_params;
OSSL_FUNC_keymgmt_query_operation_name_fn hwca_rsa_keymgmt_query_operation_name,
    hwca_ec_keymgmt_query_operation_name;
}

void* keymgmt_new(void* provctx, bool rsa) {
  return hwca::provider::guarded(static_cast<ProvCtx*>(provctx), static_cast<void*>(nullptr),
                                 [&]() -> void* {
                                   auto* key = new Key();
                                   key->rsa = rsa;
                                   return key;
                                 });
}
extern "C" void* hwca_rsa_keymgmt_new(void* provctx) { return keymgmt_new(provctx, true); }
extern "C" void* hwca_ec_keymgmt_new(void* provctx) { return keymgmt_new(provctx, false); }

extern "C" void hwca_keymgmt_free(void* keydata) { delete static_cast<Key*>(keydata); }

void* keymgmt_load(const void* reference, size_t size, bool rsa) {
  if (reference == nullptr || size != sizeof(Key*)) return nullptr;
  const Key* from = *static_cast<const Key* const*>(reference);
  if (from == nullptr || from->rsa != rsa) return nullptr;
  return hwca::provider::guarded(nullptr, static_cast<void*>(nullptr),
                                 [&]() -> void* { return new Key(from->copy()); });
}
extern "C" void* hwca_rsa_keymgmt_load(const void* ref, size_t size) {
  return keymgmt_load(ref, size, true);
}
extern "C" void* hwca_ec_keymgmt_load(const void* ref, size_t size) {
  return keymgmt_load(ref, size, false);
}

extern "C" void* hwca_keymgmt_dup(const void* keydata, int) {
  const Key* from = static_cast<const Key*>(keydata);
  return hwca::provider::guarded(nullptr, static_cast<void*>(nullptr),
                                 [&]() -> void* { return new Key(from->copy()); });
}

extern "C" int hwca_keymgmt_has(const void* keydata, int selection) {
  const Key* key = static_cast<const Key*>(keydata);
  if (key == nullptr) return 0;
  if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && !key->signer) return 0;
  if ((selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)) != 0 &&
      !key->pub) {
    return 0;
  }
  return 1;
}

extern "C" int hwca_keymgmt_match(const void* a, const void* b, int selection) {
  const Key* k1 = static_cast<const Key*>(a);
  const Key* k2 = static_cast<const Key*>(b);
  if (k1 == nullptr || k2 == nullptr || !k1->pub || !k2->pub || k1->rsa != k2->rsa) return 0;
  // Two keys with the same public half are the same key pair; the private halves cannot be
  // compared (they never leave the device).
  if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0 ||
      (selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0) {
    return EVP_PKEY_eq(k1->pub.get(), k2->pub.get()) == 1 ? 1 : 0;
  }
  return 1;
}

// Only public keys can be imported: OpenSSL does this to compare a certificate's key with
// ours (X509_check_private_key, SSL_CTX_use_PrivateKey).
int keymgmt_import(void* keydata, int selection, const OSSL_PARAM params[], const char* type) {
  Key* key = static_cast<Key*>(keydata);
  if (key == nullptr) return 0;
  for (const char* secret : {OSSL_PKEY_PARAM_PRIV_KEY, OSSL_PKEY_PARAM_RSA_D}) {
    if (OSSL_PARAM_locate_const(params, secret) != nullptr) {
      hwca::provider::raise(nullptr, hwca::provider::kReasonUsage,
                            "the hwca provider holds no private keys in memory; import refused");
      return 0;
    }
  }
  if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) == 0) return 0;
  hwca::ossl::Ptr<EVP_PKEY_CTX> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, hwca::ossl::kDefaultProps));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) !=
          1) {
    return 0;
  }
  key->pub.reset(pkey);
  return 1;
}
extern "C" int hwca_rsa_keymgmt_import(void* k, int sel, const OSSL_PARAM p[]) {
  return keymgmt_import(k, sel, p, "RSA");
}
extern "C" int hwca_ec_keymgmt_import(void* k, int sel, const OSSL_PARAM p[]) {
  return keymgmt_import(k, sel, p, "EC");
}

const OSSL_PARAM kRsaTypes[] = {OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
                                OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0), OSSL_PARAM_END};
const OSSL_PARAM kEcTypes[] = {
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, nullptr, 0), OSSL_PARAM_END};

extern "C" const OSSL_PARAM* hwca_rsa_keymgmt_io_types(int selection) {
  return (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 ? kRsaTypes : nullptr;
}
extern "C" const OSSL_PARAM* hwca_ec_keymgmt_io_types(int selection) {
  return (selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS)) != 0
             ? kEcTypes
             : nullptr;
}

extern "C" int hwca_keymgmt_export(void* keydata, int selection, OSSL_CALLBACK* cb, void* cbarg) {
  Key* key = static_cast<Key*>(keydata);
  if (key == nullptr || !key->pub) return 0;
  if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0) return 0;  // never leaves the device
  return EVP_PKEY_export(key->pub.get(), selection, cb, cbarg);
}

extern "C" int hwca_keymgmt_get_params(void* keydata, OSSL_PARAM params[]) {
  Key* key = static_cast<Key*>(keydata);
  if (key == nullptr || !key->pub) return 0;
  // Everything public (bits, security-bits, max-size, default-digest, n/e, group, the
  // encoded point, point-format) comes from the public key. A parameter the public key
  // lacks is left unset, as OpenSSL expects.
  return EVP_PKEY_get_params(key->pub.get(), params);
}

const OSSL_PARAM kRsaGettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nullptr, 0),
    OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, nullptr, 0),
    OSSL_PARAM_END};
const OSSL_PARAM kEcGettable[] = {
    OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, nullptr),
    OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, nullptr),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, nullptr, 0),
    OSSL_PARAM_END};

extern "C" const OSSL_PARAM* hwca_rsa_keymgmt_gettable_params(void*) { return kRsaGettable; }
extern "C" const OSSL_PARAM* hwca_ec_keymgmt_gettable_params(void*) { return kEcGettable; }

extern "C" const char* hwca_rsa_keymgmt_query_operation_name(int) { return "RSA"; }
extern "C" const char* hwca_ec_keymgmt_query_operation_name(int operation_id) {
  return operation_id == OSSL_OP_SIGNATURE ? "ECDSA" : "EC";
}

}  // namespace

extern "C" const OSSL_DISPATCH hwca_rsa_keymgmt_functions[] = {
    HWCA_DISPATCH(keymgmt, NEW, new, hwca_rsa_keymgmt_new),
    HWCA_DISPATCH(keymgmt, FREE, free, hwca_keymgmt_free),
    HWCA_DISPATCH(keymgmt, LOAD, load, hwca_rsa_keymgmt_load),
    HWCA_DISPATCH(keymgmt, DUP, dup, hwca_keymgmt_dup),
    HWCA_DISPATCH(keymgmt, HAS, has, hwca_keymgmt_has),
    HWCA_DISPATCH(keymgmt, MATCH, match, hwca_keymgmt_match),
    HWCA_DISPATCH(keymgmt, IMPORT, import, hwca_rsa_keymgmt_import),
    HWCA_DISPATCH(keymgmt, IMPORT_TYPES, import_types, hwca_rsa_keymgmt_io_types),
    HWCA_DISPATCH(keymgmt, EXPORT, export, hwca_keymgmt_export),
    HWCA_DISPATCH(keymgmt, EXPORT_TYPES, export_types, hwca_rsa_keymgmt_io_types),
    HWCA_DISPATCH(keymgmt, GET_PARAMS, get_params, hwca_keymgmt_get_params),
    HWCA_DISPATCH(keymgmt, GETTABLE_PARAMS, gettable_params, hwca_rsa_keymgmt_gettable_params),
    HWCA_DISPATCH(keymgmt, QUERY_OPERATION_NAME, query_operation_name,
                  hwca_rsa_keymgmt_query_operation_name),
    {0, nullptr}};

extern "C" const OSSL_DISPATCH hwca_ec_keymgmt_functions[] = {
    HWCA_DISPATCH(keymgmt, NEW, new, hwca_ec_keymgmt_new),
    HWCA_DISPATCH(keymgmt, FREE, free, hwca_keymgmt_free),
    HWCA_DISPATCH(keymgmt, LOAD, load, hwca_ec_keymgmt_load),
    HWCA_DISPATCH(keymgmt, DUP, dup, hwca_keymgmt_dup),
    HWCA_DISPATCH(keymgmt, HAS, has, hwca_keymgmt_has),
    HWCA_DISPATCH(keymgmt, MATCH, match, hwca_keymgmt_match),
    HWCA_DISPATCH(keymgmt, IMPORT, import, hwca_ec_keymgmt_import),
    HWCA_DISPATCH(keymgmt, IMPORT_TYPES, import_types, hwca_ec_keymgmt_io_types),
    HWCA_DISPATCH(keymgmt, EXPORT, export, hwca_keymgmt_export),
    HWCA_DISPATCH(keymgmt, EXPORT_TYPES, export_types, hwca_ec_keymgmt_io_types),
    HWCA_DISPATCH(keymgmt, GET_PARAMS, get_params, hwca_keymgmt_get_params),
    HWCA_DISPATCH(keymgmt, GETTABLE_PARAMS, gettable_params, hwca_ec_keymgmt_gettable_params),
    HWCA_DISPATCH(keymgmt, QUERY_OPERATION_NAME, query_operation_name,
                  hwca_ec_keymgmt_query_operation_name),
    {0, nullptr}};
