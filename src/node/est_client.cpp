#include "node/est_client.hpp"

#include <httplib.h>

#include "common/base64.hpp"
#include "common/text.hpp"
#include "est/est_codec.hpp"
#include "node/tls_client.hpp"

namespace hwca::node {
namespace {

constexpr std::string_view kWellKnown = "/.well-known/est";

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

Result<ossl::Ptr<X509>> EstClient::enroll(const std::string& csr_der, bool reenroll) {
  auto made = make_client(endpoint_, options_);
  if (!made) return tl::unexpected(made.error());
  auto& cli = *made;
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
  if (res->status != 200) return tl::unexpected(refusal("EST " + op, *res));
  return issued_certificate(res->body, "EST " + op);
}

Result<std::vector<ossl::Ptr<X509>>> EstClient::cacerts() {
  auto made = make_client(endpoint_, options_);
  if (!made) return tl::unexpected(made.error());
  auto& cli = *made;
  auto res = cli->Get(path("cacerts"));
  if (!res) return tl::unexpected(transport_error(endpoint_, res.error(), *cli));
  if (res->status != 200) return tl::unexpected(refusal("EST cacerts", *res));
  return est::decode_certs_only_body(res->body);
}

}  // namespace hwca::node
