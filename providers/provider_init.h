/* What a program that builds the hwca provider in needs: its entry point for
 * OSSL_PROVIDER_add_builtin(), the names of its STORE parameters and openssl.cnf keys, and
 * how its error reason codes carry hwca's ErrorKind. Plain C: no token header behind it. */
#pragma once

#include <openssl/core.h>

/* STORE parameters (OSSL_STORE_open_ex) and keys of the provider's openssl.cnf section. */
#define HWCA_PARAM_PIN_SOURCE "pin-source"                 /* before the URI's pin-source */
#define HWCA_PARAM_DEFAULT_PIN_SOURCE "default-pin-source" /* after the URI's pin-source */
#define HWCA_PARAM_PKCS11_MODULE "pkcs11-module"
#define HWCA_PARAM_TPM2_TCTI "tpm2-tcti" /* which TPM tpm2: keys are in */
/* How the calling program's user gives a PIN, for the error when none was given (STORE
 * parameter only; default: the openssl command's ways). */
#define HWCA_PARAM_PIN_HINT "pin-hint"

/* Error reasons raised by the provider are this base plus an hwca::ErrorKind. */
#define HWCA_REASON_KIND_BASE 0x100

#ifdef __cplusplus
extern "C" {
#endif
int hwca_provider_init(const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in,
                       const OSSL_DISPATCH** out, void** provctx);
#ifdef __cplusplus
}
#endif
