#include "node/est_client.hpp"

#include <httplib.h>
#include <openssl/ssl.h>

#include "ca/certificate_builder.hpp"
#include "ca/crypto_context.hpp"
#include "common/base64.hpp"
#include "common/text.hpp"
#include "est/est_codec.hpp"

namespace hwca::node {
namespace {

constexpr std::string_view kWellKnown = "/.well-known/est";

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

Result<EstEndpoint> parse_est_url(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (url.rfind(kScheme, 0) != 0) {
    return fail(ErrorKind::usage,
                "--server must be an https:// URL (got '" + printable(url) + "')");
  }
  std::string rest = url.substr(kScheme.size());
  std::string authority = rest.substr(0, rest.find('/'));
  std::string path = authority.size() < rest.size() ? rest.substr(authority.size()) : "";
  EstEndpoint e;
  if (authority.empty())
    return fail(ErrorKind::usage, "--server '" + printable(url) + "' has no host");
  if (authority.front() == '[') {  // [v6]:port
    auto close = authority.find(']');
    if (close == std::string::npos)
      return fail(ErrorKind::usage, "--server: unclosed '[' in the host");
    e.host = authority.substr(1, close - 1);
    authority = authority.substr(close + 1);
    if (!authority.empty() && authority.front() != ':') {
      return fail(ErrorKind::usage, "--server: junk after the IPv6 address");
    }
  } else {
    auto colon = authority.find(':');
    e.host = authority.substr(0, colon);
    authority = colon == std::string::npos ? "" : authority.substr(colon);
  }
  if (!authority.empty()) {
    char* end = nullptr;
    long port = std::strtol(authority.c_str() + 1, &end, 10);
    if (authority.size() == 1 || *end != '\0' || port <= 0 || port > 65535) {
      return fail(ErrorKind::usage,
                  "--server: '" + printable(authority.substr(1)) + "' is not a port number");
    }
    e.port = static_cast<int>(port);
  }
  if (e.host.empty())
    return fail(ErrorKind::usage, "--server '" + printable(url) + "' has no host");
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.rfind(kWellKnown, 0) == 0) path = path.substr(kWellKnown.size());
  if (!path.empty()) {
    std::string label = path.substr(1);
    if (label.empty() ||
        label.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
      return fail(ErrorKind::usage, "--server: '" + printable(path) +
                                        "' is not an EST label (e.g. /kubelet-serving)");
    }
    e.label = label;
  }
  return e;
}

std::string EstClient::path(const std::string& operation) const {
  return std::string(kWellKnown) + "/" + (endpoint_.label.empty() ? "" : endpoint_.label + "/") +
         operation;
}

namespace {

// One configured client; errors in the set-up come back in `error`.
std::unique_ptr<httplib::SSLClient> make_client(const EstEndpoint& e, const ClientOptions& o,
                                                std::string& error) {
  std::unique_ptr<httplib::SSLClient> cli;
  if (o.client_cert != nullptr) {
    // cpp-httplib takes non-const pointers but only hands them to SSL_CTX_use_*.
    cli = std::make_unique<httplib::SSLClient>(e.host, e.port, const_cast<X509*>(o.client_cert),
                                               o.client_key);
  } else {
    cli = std::make_unique<httplib::SSLClient>(e.host, e.port);
  }
  if (!cli->is_valid()) {
    error = "cannot set up TLS with the client certificate and key: " + ossl::take_errors();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(cli->ssl_context(), TLS1_2_VERSION);
  // The file is read here only to refuse one without certificates. The client trusts it by
  // path: given a store, cpp-httplib 0.11 would add the system's CA bundle to it, and a
  // public CA could then vouch for the EST server.
  if (auto certs = ca::read_pem_certificates(o.ca_file); !certs) {
    error = certs.error().message;
    return nullptr;
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
    case httplib::Error::SSLServerVerification:
      why = "the server's certificate does not chain to --ca-cert (verify result " +
            std::to_string(cli.get_openssl_verify_result()) + ": " +
            X509_verify_cert_error_string(cli.get_openssl_verify_result()) + ")";
      break;
    default:
      why = httplib::to_string(err);
  }
  return Error{ErrorKind::io, "EST server " + e.host + ":" + std::to_string(e.port) + ": " + why};
}

}  // namespace

Result<ossl::Ptr<X509>> EstClient::enroll(const std::string& csr_der, bool reenroll) {
  std::string error;
  auto cli = make_client(endpoint_, options_, error);
  if (!cli) return fail(ErrorKind::usage, error);
  httplib::Headers headers;
  if (options_.basic_password != nullptr) {
    std::string plain = options_.basic_user + ":" + std::string(options_.basic_password->view());
    headers.emplace("Authorization", "Basic " + base64_encode(plain));
    OPENSSL_cleanse(plain.data(), plain.size());
  }
  const std::string op = reenroll ? "simplereenroll" : "simpleenroll";
  auto res = cli->Post(path(op), headers, base64_encode(csr_der), est::kPkcs10Type);
  for (auto& [name, value] : headers) OPENSSL_cleanse(value.data(), value.size());
  if (!res) return tl::unexpected(transport_error(endpoint_, res.error(), *cli));
  if (res->status != 200) {
    return fail(kind_for_status(res->status),
                "EST " + op + " refused (" + std::to_string(res->status) + "): " + reason_of(*res));
  }
  auto certs = est::decode_certs_only_body(res->body);
  if (!certs) return wrap(certs.error(), "EST " + op + " reply");
  if (certs->empty()) return fail(ErrorKind::usage, "EST " + op + " reply holds no certificate");
  return std::move(certs->front());
}

Result<std::vector<ossl::Ptr<X509>>> EstClient::cacerts() {
  std::string error;
  auto cli = make_client(endpoint_, options_, error);
  if (!cli) return fail(ErrorKind::usage, error);
  auto res = cli->Get(path("cacerts"));
  if (!res) return tl::unexpected(transport_error(endpoint_, res.error(), *cli));
  if (res->status != 200) {
    return fail(kind_for_status(res->status),
                "EST cacerts refused (" + std::to_string(res->status) + "): " + reason_of(*res));
  }
  return est::decode_certs_only_body(res->body);
}

}  // namespace hwca::node
