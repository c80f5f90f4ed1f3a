#include "est/tls_context.hpp"

#include <openssl/x509v3.h>

namespace hwca::est {
namespace {

const unsigned char kSessionContext[] = "hwca-est";

}  // namespace

Result<ossl::Ptr<SSL_CTX>> make_server_tls_context(const TlsIdentity& id) {
  ossl::Ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return fail(ErrorKind::internal, "cannot set up TLS: " + ossl::take_errors());
  SSL_CTX* c = ctx.get();
  bool ok = SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) == 1 &&
            SSL_CTX_set_cipher_list(c, kTls12Ciphers) == 1;
  if (!ok) return fail(ErrorKind::internal, "cannot set the TLS ciphers: " + ossl::take_errors());
  SSL_CTX_set_options(
      c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  ok = SSL_CTX_use_certificate(c, id.cert.get()) == 1;
  for (const auto& cert : id.chain) ok = ok && SSL_CTX_add1_chain_cert(c, cert.get()) == 1;
  ok = ok && SSL_CTX_use_PrivateKey(c, id.key.get()) == 1 && SSL_CTX_check_private_key(c) == 1;
  if (!ok) {
    return fail(ErrorKind::usage,
                "the TLS certificate and key do not go together: " + ossl::take_errors());
  }
  // Clients are verified against the serving CA only (it may be an intermediate).
  ossl::Ptr<X509_STORE> store(X509_STORE_new());
  ok = store && X509_STORE_add_cert(store.get(), id.client_ca.get()) == 1 &&
       X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN) == 1;
  if (!ok)
    return fail(ErrorKind::internal, "cannot set up client verification: " + ossl::take_errors());
  SSL_CTX_set_cert_store(c, store.release());
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  X509_NAME* name = X509_NAME_dup(X509_get_subject_name(id.client_ca.get()));
  if (names != nullptr && name != nullptr && sk_X509_NAME_push(names, name) > 0) {
    SSL_CTX_set_client_CA_list(c, names);
  } else {
    X509_NAME_free(name);
    sk_X509_NAME_free(names);
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);
  // No session resumption: every connection makes a full handshake, so its client
  // certificate is verified each time. No client resumes anyway (cpp-httplib's, hence
  // hwca-node's, does not), while the two TLS 1.3 tickets OpenSSL sends by default after
  // each handshake were 29% of its cost; and no session cache grows with TLS 1.2 clients.
  SSL_CTX_set_num_tickets(c, 0);
  SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  // Every handshake reads these certificates on the server's threads. OpenSSL 3.0 decodes a
  // certificate's extensions (key identifiers, ...) into it on first use, and a thread that
  // finds them being decoded reads them without the lock (ThreadSanitizer: ASN1_STRING_set
  // against ASN1_STRING_cmp in two concurrent handshakes): decoded here, before sharing.
  X509_check_purpose(id.cert.get(), -1, 0);
  for (const auto& cert : id.chain) X509_check_purpose(cert.get(), -1, 0);
  X509_check_purpose(id.client_ca.get(), -1, 0);
  return ctx;
}

}  // namespace hwca::est
