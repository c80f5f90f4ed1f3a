// The CA core's view of keys: an OpenSSL library context holding the hwca provider (built
// in) beside the default provider. Keys are loaded by URI through OSSL_STORE and come back
// as plain EVP_PKEYs that X509_sign, X509_REQ_sign, X509_CRL_sign and TLS use as they are.
// Nothing here knows PKCS#11 or TPM.
#pragma once

#include <memory>
#include <string>

#include "common/ossl.hpp"
#include "common/result.hpp"
#include "tokens/open_options.hpp"

namespace hwca::ca {

// The error the hwca provider raised (its message and kind: a wrong TPM password stays an
// auth error), else `fallback` with OpenSSL's queue after `context`; the queue is cleared.
// `prefix_ours`: put `context` before the provider's message too.
Error provider_error(ErrorKind fallback, const std::string& context, bool prefix_ours = false);

class CryptoContext {
 public:
  // `own`: a library context of its own (the CLI). `process_default`: OpenSSL's default
  // library context, for a process whose libraries create their own SSL_CTX with
  // SSL_CTX_new() (the EST server and client, through cpp-httplib): a key from another
  // library context cannot sign there. At most one process_default context per process.
  enum class Scope { own, process_default };
  static Result<std::unique_ptr<CryptoContext>> create(Scope scope = Scope::own);
  ~CryptoContext();
  CryptoContext(const CryptoContext&) = delete;
  CryptoContext& operator=(const CryptoContext&) = delete;

  OSSL_LIB_CTX* libctx() const { return libctx_; }

  // Load the private key a URI names. Load each key once and share the EVP_PKEY: it is
  // thread-safe for signing.
  Result<ossl::Ptr<EVP_PKEY>> load_private_key(const std::string& uri,
                                               const tokens::OpenOptions& options) const;

 private:
  CryptoContext() = default;
  OSSL_LIB_CTX* libctx_ = nullptr;
  OSSL_PROVIDER* hwca_ = nullptr;
  OSSL_PROVIDER* default_ = nullptr;
};

}  // namespace hwca::ca
