/* The built-in entry point of the hwca provider, for OSSL_PROVIDER_add_builtin(). */
#pragma once

#include <openssl/core.h>

#ifdef __cplusplus
extern "C" {
#endif
int hwca_provider_init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in,
                       const OSSL_DISPATCH** out, void** provctx);
#ifdef __cplusplus
}
#endif
