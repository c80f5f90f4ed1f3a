// PROVISIONAL (branch tpm-registry replaces this file).
#include "attest/ek_certificate.hpp"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

namespace hwca::attest {

Result<ossl::Ptr<X509>> parse_ek_certificate(std::span<const uint8_t> bytes) {
  const unsigned char* p = bytes.data();
  ossl::Ptr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(bytes.size())));
  if (!cert) {
    ERR_clear_error();
    return fail(ErrorKind::usage, "the EK certificate is not DER");
  }
  return cert;
}

Status verify_ek_chain(X509* ek, const std::vector<X509*>& anchors,
                       const std::vector<X509*>& intermediates) {
  ossl::Ptr<X509_STORE> store(X509_STORE_new());
  for (X509* a : anchors) X509_STORE_add_cert(store.get(), a);
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (X509* i : intermediates) sk_X509_push(untrusted, i);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store.get(), ek, untrusted);
  X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
  int ok = X509_verify_cert(ctx);
  int err = X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  ERR_clear_error();
  if (ok != 1) {
    return fail(ErrorKind::auth, std::string("the EK certificate does not chain to an EK root: ") +
                                     X509_verify_cert_error_string(err));
  }
  return {};
}

}  // namespace hwca::attest
