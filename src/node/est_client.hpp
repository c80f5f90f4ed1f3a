// The node agent's EST client (RFC 7030) over HTTPS, on cpp-httplib's client. The server is
// verified against the given CA certificate(s) and its name; TLS 1.2 or 1.3 only. With a
// client certificate the key may live in a TPM: it signs through the hwca provider, which
// must then be in OpenSSL's default library context (ca::CryptoContext::Scope::
// process_default), since cpp-httplib makes its SSL_CTX there.
#pragma once

#include <string>
#include <vector>

#include "common/ossl.hpp"
#include "common/result.hpp"
#include "common/secure_string.hpp"

namespace hwca::node {

struct EstEndpoint {
  std::string host;
  int port = 443;
  std::string label;  // "" or "kubelet-serving", ...
};

// "https://HOST[:PORT][/.well-known/est][/LABEL]"; anything else is a usage error.
Result<EstEndpoint> parse_est_url(const std::string& url);

struct ClientOptions {
  std::string ca_file;                // PEM: the CA(s) the server's certificate must chain to
  const X509* client_cert = nullptr;  // mutual TLS, with client_key
  EVP_PKEY* client_key = nullptr;
  std::string basic_user;  // HTTP Basic, with basic_password
  const SecureString* basic_password = nullptr;
  int timeout_s = 30;  // connect, read and write, each
};

class EstClient {
 public:
  EstClient(EstEndpoint endpoint, ClientOptions options)
      : endpoint_(std::move(endpoint)), options_(std::move(options)) {}

  // POST simpleenroll or simplereenroll with a DER request; the issued certificate.
  // A refusal keeps the server's one-line reason and maps its status to a kind: 401 auth,
  // 403 and 400 usage, 404 not_found, 5xx device (the CA's side), transport errors io
  // (device when the TLS handshake failed because the client key's device did: a TPM gone).
  Result<ossl::Ptr<X509>> enroll(const std::string& csr_der, bool reenroll);
  // GET cacerts.
  Result<std::vector<ossl::Ptr<X509>>> cacerts();

 private:
  std::string path(const std::string& operation) const;

  EstEndpoint endpoint_;
  ClientOptions options_;
};

}  // namespace hwca::node
