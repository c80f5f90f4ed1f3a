// The EST server's TLS settings, in one SSL_CTX that hwca owns:
//   - TLS 1.2 or 1.3; in TLS 1.2 only ECDHE key exchange with AEAD ciphers (AES-GCM,
//     ChaCha20-Poly1305; ECDSA or RSA server keys), no CBC suites; TLS 1.3 as OpenSSL has it;
//   - a client certificate asked for but not required, and when sent verified against the
//     serving CA alone (it may be an intermediate);
//   - no renegotiation, no session resumption (no tickets, no session cache): every
//     connection makes a full handshake and its client certificate is verified each time.
#pragma once

#include <openssl/ssl.h>

#include <vector>

#include "common/ossl.hpp"
#include "common/result.hpp"

namespace hwca::ossl {
template <>
struct Deleter<SSL_CTX> {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
template <>
struct Deleter<SSL> {
  void operator()(SSL* p) const { SSL_free(p); }
};
}  // namespace hwca::ossl

namespace hwca::est {

// The TLS 1.2 cipher suites offered, in the server's order of preference.
inline constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

struct TlsIdentity {
  ossl::Ptr<X509> cert;
  std::vector<ossl::Ptr<X509>> chain;  // sent after `cert`
  ossl::Ptr<EVP_PKEY> key;             // may live in a token, through the provider
  ossl::Ptr<X509> client_ca;           // the one CA client certificates must chain to
};

// ErrorKind::usage when the certificate and key do not go together.
Result<ossl::Ptr<SSL_CTX>> make_server_tls_context(const TlsIdentity& id);

}  // namespace hwca::est
