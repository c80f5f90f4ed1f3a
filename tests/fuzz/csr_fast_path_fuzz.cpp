// Differential: parse_csr's fast path (src/ca/csr_fast_path.hpp) against the ordinary
// OpenSSL path it stands in for (d2i_X509_REQ in a library context with providers, then
// X509_REQ_verify with the request's own key: what parse_csr does when the fast path says
// nothing). The fast path must never accept what the ordinary path refuses, and what it
// accepts must be the same request: the same public key (SubjectPublicKeyInfo DER and
// EVP_PKEY_eq), a signature that verifies, the same bytes. Both library contexts the fast
// path meets are tried: OpenSSL's default one (hwca serve's) and one of its own (the CLI's).
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "ca/csr_fast_path.hpp"
#include "common/ossl.hpp"
#include "fuzz/fuzz_input.hpp"

namespace {

using hwca::fuzz::check;
using hwca::ossl::Ptr;

OSSL_LIB_CTX* own_libctx() {
  static OSSL_LIB_CTX* const ctx = [] {
    OSSL_LIB_CTX* c = OSSL_LIB_CTX_new();
    if (c == nullptr || OSSL_PROVIDER_load(c, "default") == nullptr)
      hwca::fuzz::broken("no libctx");
    return c;
  }();
  return ctx;
}

// parse_csr without its fast path (src/ca/csr.cpp), on DER.
Ptr<X509_REQ> ordinary(std::string_view der, OSSL_LIB_CTX* libctx) {
  X509_REQ* out = X509_REQ_new_ex(libctx, hwca::ossl::kDefaultProps);
  const auto* start = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* p = start;
  const bool decoded =
      out != nullptr && d2i_X509_REQ(&out, &p, static_cast<long>(der.size())) != nullptr;
  Ptr<X509_REQ> req(out);
  if (!decoded || p != start + der.size()) return nullptr;
  if (X509_REQ_get_version(req.get()) != X509_REQ_VERSION_1) return nullptr;
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr || X509_REQ_verify_ex(req.get(), key, libctx, hwca::ossl::kDefaultProps) != 1)
    return nullptr;
  return req;
}

// The DER of `obj` by its i2d function; empty when it cannot be encoded.
template <typename T>
std::string der_of(T* obj, int (*i2d)(const T*, unsigned char**)) {
  unsigned char* out = nullptr;
  int len = i2d(obj, &out);
  std::string der =
      len > 0 ? std::string(reinterpret_cast<char*>(out), static_cast<size_t>(len)) : "";
  OPENSSL_free(out);
  return der;
}
std::string der_of(X509_PUBKEY* spki) { return der_of(spki, i2d_X509_PUBKEY); }
std::string der_of(X509_REQ* req) { return der_of(req, i2d_X509_REQ); }

void compare(std::string_view der, OSSL_LIB_CTX* libctx) {
  Ptr<X509_REQ> fast = hwca::ca::parse_named_curve_request(der, libctx);
  Ptr<X509_REQ> slow = ordinary(der, libctx);
  ERR_clear_error();
  if (!fast) return;  // the fast path may decline anything: parse_csr then decides
  check(slow != nullptr, "the fast path accepted a request the ordinary path refuses");
  EVP_PKEY* fast_key = X509_REQ_get0_pubkey(fast.get());
  EVP_PKEY* slow_key = X509_REQ_get0_pubkey(slow.get());
  check(fast_key != nullptr, "the fast path's request has no public key");
  check(EVP_PKEY_eq(fast_key, slow_key) == 1, "the two paths read different public keys");
  const std::string fast_spki = der_of(X509_REQ_get_X509_PUBKEY(fast.get()));
  check(!fast_spki.empty() && fast_spki == der_of(X509_REQ_get_X509_PUBKEY(slow.get())),
        "the two paths encode the public key differently");
  check(der_of(fast.get()) == der, "the fast path's request does not encode to the bytes received");
  check(X509_REQ_verify(fast.get(), fast_key) == 1,
        "the fast path's request does not verify with its own key");
  ERR_clear_error();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view der(reinterpret_cast<const char*>(data), size);
  compare(der, nullptr);
  compare(der, own_libctx());
  return 0;
}
