#include "node/tls_client.hpp"

#include <openssl/ssl.h>

#include "ca/certificate_builder.hpp"
#include "ca/crypto_context.hpp"
#include "common/text.hpp"
#include "est/est_codec.hpp"

namespace hwca::node {
namespace {

ErrorKind kind_for_status(int status) {
  if (status == 401) return ErrorKind::auth;
  if (status == 404) return ErrorKind::not_found;
  if (status >= 500) return ErrorKind::device;
  return ErrorKind::usage;
}

// The server's reason: the first line of a text/plain body, made safe to print.
std::string reason_of(const httplib::Response& res) {
  std::string body = res.body.substr(0, res.body.find('\n'));
  if (body.size() > 300) body = body.substr(0, 300) + "...";
  return printable(body);
}

}  // namespace

Result<std::unique_ptr<httplib::SSLClient>> make_client(const EstEndpoint& e,
                                                        const ClientOptions& o) {
  std::unique_ptr<httplib::SSLClient> cli;
  if (o.client_cert != nullptr) {
    // cpp-httplib takes non-const pointers but only hands them to SSL_CTX_use_*.
    cli = std::make_unique<httplib::SSLClient>(e.host, e.port, const_cast<X509*>(o.client_cert),
                                               o.client_key);
  } else {
    cli = std::make_unique<httplib::SSLClient>(e.host, e.port);
  }
  if (!cli->is_valid()) {
    return fail(ErrorKind::usage,
                "cannot set up TLS with the client certificate and key: " + ossl::take_errors());
  }
  SSL_CTX_set_min_proto_version(cli->ssl_context(), TLS1_2_VERSION);
  // The file is read here only to refuse one without certificates. The client trusts it by
  // path: given a store, cpp-httplib 0.11 would add the system's CA bundle to it, and a
  // public CA could then vouch for the EST server.
  if (auto certs = ca::read_pem_certificates(o.ca_file); !certs) {
    return fail(ErrorKind::usage, certs.error().message);
  }
  cli->set_ca_cert_path(o.ca_file.c_str());
  cli->enable_server_certificate_verification(true);
  cli->set_connection_timeout(o.timeout_s, 0);
  cli->set_read_timeout(o.timeout_s, 0);
  cli->set_write_timeout(o.timeout_s, 0);
  return cli;
}

Error transport_error(const EstEndpoint& e, httplib::Error err, const httplib::SSLClient& cli) {
  std::string why;
  switch (err) {
    case httplib::Error::Connection:
      why = "cannot connect (nothing listens there, or it is unreachable)";
      break;
    case httplib::Error::ConnectionTimeout:
      why = "no answer to the connection within --timeout";
      break;
    case httplib::Error::Read:
      why = "the connection broke, or --timeout passed, while reading the reply";
      break;
    case httplib::Error::Write:
      why = "the connection broke while sending the request";
      break;
    case httplib::Error::SSLConnection: {
      // The client key's device may be what failed (a TPM gone while it signed): then the
      // provider's error, and its kind, say so.
      return ca::provider_error(
          ErrorKind::io,
          "EST server " + e.host + ":" + std::to_string(e.port) + ": the TLS handshake failed",
          /*prefix_ours=*/true);
    }
    case httplib::Error::SSLServerVerification: {
      const long result = cli.get_openssl_verify_result();
      // The chain verified, so what failed is cpp-httplib's own check of the host name.
      why = result == X509_V_OK
                ? "the server's certificate chains to --ca-cert but does not name '" + e.host +
                      "' (use a name or address it holds in --server, or give the server "
                      "--tls-san " +
                      e.host + ")"
                : "the server's certificate does not chain to --ca-cert (verify result " +
                      std::to_string(result) + ": " + X509_verify_cert_error_string(result) + ")";
      break;
    }
    default:
      why = httplib::to_string(err);
  }
  return Error{ErrorKind::io, "EST server " + e.host + ":" + std::to_string(e.port) + ": " + why};
}

Error refusal(const std::string& what, const httplib::Response& res) {
  return Error{kind_for_status(res.status),
               what + " refused (" + std::to_string(res.status) + "): " + reason_of(res)};
}

Result<ossl::Ptr<X509>> issued_certificate(const std::string& body, const std::string& what) {
  auto certs = est::decode_certs_only_body(body);
  if (!certs) return wrap(certs.error(), what + " reply");
  if (certs->empty()) return fail(ErrorKind::usage, what + " reply holds no certificate");
  return std::move(certs->front());
}

}  // namespace hwca::node
