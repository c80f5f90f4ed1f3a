// RAII for OpenSSL objects and helpers for its error queue.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "common/result.hpp"

namespace hwca::ossl {

template <typename T>
struct Deleter;
#define HWCA_OSSL_DELETER(T, fn)           \
  template <>                              \
  struct Deleter<T> {                      \
    void operator()(T* p) const { fn(p); } \
  }
HWCA_OSSL_DELETER(EVP_PKEY, EVP_PKEY_free);
HWCA_OSSL_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
HWCA_OSSL_DELETER(EVP_MD_CTX, EVP_MD_CTX_free);
HWCA_OSSL_DELETER(EVP_MD, EVP_MD_free);
HWCA_OSSL_DELETER(EVP_KDF, EVP_KDF_free);
HWCA_OSSL_DELETER(EVP_KDF_CTX, EVP_KDF_CTX_free);
HWCA_OSSL_DELETER(BIO, BIO_free_all);
HWCA_OSSL_DELETER(BIGNUM, BN_free);
HWCA_OSSL_DELETER(X509, X509_free);
HWCA_OSSL_DELETER(X509_REQ, X509_REQ_free);
HWCA_OSSL_DELETER(X509_CRL, X509_CRL_free);
HWCA_OSSL_DELETER(X509_STORE, X509_STORE_free);
HWCA_OSSL_DELETER(X509_STORE_CTX, X509_STORE_CTX_free);
HWCA_OSSL_DELETER(ASN1_INTEGER, ASN1_INTEGER_free);
HWCA_OSSL_DELETER(X509_ALGOR, X509_ALGOR_free);
HWCA_OSSL_DELETER(X509_PUBKEY, X509_PUBKEY_free);
HWCA_OSSL_DELETER(X509_NAME, X509_NAME_free);
HWCA_OSSL_DELETER(ECDSA_SIG, ECDSA_SIG_free);
HWCA_OSSL_DELETER(OSSL_LIB_CTX, OSSL_LIB_CTX_free);
HWCA_OSSL_DELETER(OSSL_STORE_CTX, OSSL_STORE_close);
HWCA_OSSL_DELETER(OSSL_STORE_INFO, OSSL_STORE_INFO_free);
HWCA_OSSL_DELETER(OSSL_PARAM, OSSL_PARAM_free);
HWCA_OSSL_DELETER(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free);
#undef HWCA_OSSL_DELETER

template <typename T>
using Ptr = std::unique_ptr<T, Deleter<T>>;

// Properties that pin an algorithm fetch to OpenSSL's default provider. Public-key work
// (verification, public key objects, digests) never goes through a token.
inline constexpr const char* kDefaultProps = "provider=default";

// The OpenSSL error queue as one line ("reason (lib)"), and the queue cleared.
std::string take_errors();

// A public key as PEM "PUBLIC KEY" (SubjectPublicKeyInfo); ErrorKind::internal when
// OpenSSL cannot encode it.
Result<std::string> public_key_pem(EVP_PKEY* key);

}  // namespace hwca::ossl
