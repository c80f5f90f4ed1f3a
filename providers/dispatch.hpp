// How the provider builds its OSSL_DISPATCH tables: one entry per function, checked by the
// compiler. HWCA_DISPATCH(signature, NEWCTX, newctx, fn) pairs the function id
// OSSL_FUNC_SIGNATURE_NEWCTX with OpenSSL's type OSSL_FUNC_signature_newctx_fn and refuses
// to build if `fn` has any other signature. The one cast OSSL_DISPATCH needs (its field is
// a plain `void (*)(void)`) is written here and nowhere else.
#pragma once

#include <openssl/core.h>
#include <openssl/core_dispatch.h>

#include <type_traits>

namespace hwca::provider {

// `id`, once checked at compile time: `fn` is exactly of OpenSSL's type `Expected`, and the
// id's spelling (SIGN_INIT) is the type's (sign_init) in upper case, so that an id cannot
// be paired with another id's type.
template <typename Expected, typename Actual>
consteval int checked_function_id(int id, const char* upper, const char* lower, Actual* fn) {
  static_assert(std::is_same_v<Expected, Actual>,
                "a provider function does not have the signature OpenSSL gives its id");
  (void)fn;
  for (; *upper != '\0' || *lower != '\0'; ++upper, ++lower) {
    char c = *lower >= 'a' && *lower <= 'z' ? static_cast<char>(*lower - 'a' + 'A') : *lower;
    if (c != *upper) throw "the function id and the function type name differ";
  }
  return id;
}

}  // namespace hwca::provider

// OSSL_FUNC_<OP>_<ID> from op and _ID. The suffix is pasted, never expanded on its own (EOF
// is a macro of <stdio.h>, _NEW the include guard of <new>).
#define HWCA_DISPATCH_ID_provider(SUFFIX) OSSL_FUNC_PROVIDER##SUFFIX
#define HWCA_DISPATCH_ID_keymgmt(SUFFIX) OSSL_FUNC_KEYMGMT##SUFFIX
#define HWCA_DISPATCH_ID_signature(SUFFIX) OSSL_FUNC_SIGNATURE##SUFFIX
#define HWCA_DISPATCH_ID_store(SUFFIX) OSSL_FUNC_STORE##SUFFIX

// HWCA_DISPATCH(op, ID, name, fn): the entry of `fn` for OSSL_FUNC_<OP>_<ID>, typed as
// OSSL_FUNC_<op>_<name>_fn (ID must be name in upper case: checked). The cast is the one
// OSSL_DISPATCH needs; the entry stays a constant, so the tables are plain data.
#define HWCA_DISPATCH(op, ID, name, fn)                                  \
  {                                                                      \
    ::hwca::provider::checked_function_id<OSSL_FUNC_##op##_##name##_fn>( \
        HWCA_DISPATCH_ID_##op(_##ID), #ID, #name, fn),                   \
        reinterpret_cast<void (*)()>(fn)                                 \
  }
