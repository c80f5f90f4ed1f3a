#include "est/est_server.hpp"

#include <httplib.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "common/base64.hpp"
#include "common/text.hpp"

namespace hwca::est {
namespace {

// cpp-httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, compiled into
// Debian's library): a burst of new connections overflows it and the kernel drops SYNs,
// which clients resend after a second. Listening again on the bound socket only raises the
// backlog.
class HttpsServer : public httplib::SSLServer {
 public:
  using httplib::SSLServer::SSLServer;
  bool raise_backlog() { return ::listen(svr_sock_, SOMAXCONN) == 0; }
};

constexpr const char* kEstPath =
    R"(/\.well-known/est/(?:([A-Za-z0-9._-]+)/)?(cacerts|csrattrs|simpleenroll|simplereenroll))";
const unsigned char kSessionContext[] = "hwca-est";

void send(const Reply& reply, httplib::Response& res) {
  res.status = reply.status;
  for (const auto& [name, value] : reply.headers) res.set_header(name, value);
  res.set_content(reply.body, reply.content_type);
}

// HTTP Basic credentials (RFC 7617): "Basic base64(user:password)".
void read_basic(const httplib::Request& req, Caller& caller) {
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size()) return;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return;
  }
  auto decoded = base64_decode(std::string_view(header).substr(kScheme.size()));
  if (!decoded) return;
  SecureString plain(*decoded);
  OPENSSL_cleanse(decoded->data(), decoded->size());
  auto colon = plain.view().find(':');
  if (colon == std::string_view::npos) return;
  caller.has_basic = true;
  caller.basic_user = std::string(plain.view().substr(0, colon));
  caller.basic_password = SecureString(plain.view().substr(colon + 1));
}

}  // namespace

EstServer::EstServer(EstService& service, Metrics& metrics, ServerOptions options)
    : service_(service), metrics_(metrics), options_(std::move(options)) {}

EstServer::~EstServer() = default;

Status EstServer::bind(const TlsIdentity& id) {
  std::string tls_error;
  auto http = std::make_unique<HttpsServer>([&](SSL_CTX& ctx) {
    SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(&ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    bool ok = SSL_CTX_use_certificate(&ctx, id.cert.get()) == 1;
    for (const auto& c : id.chain) ok = ok && SSL_CTX_add1_chain_cert(&ctx, c.get()) == 1;
    ok = ok && SSL_CTX_use_PrivateKey(&ctx, id.key.get()) == 1 &&
         SSL_CTX_check_private_key(&ctx) == 1;
    if (!ok) {
      tls_error = "the TLS certificate and key do not go together: " + ossl::take_errors();
      return false;
    }
    // Clients are verified against the serving CA only (it may be an intermediate).
    X509_STORE* store = X509_STORE_new();
    ok = store != nullptr && X509_STORE_add_cert(store, id.client_ca.get()) == 1 &&
         X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN) == 1;
    if (!ok) {
      X509_STORE_free(store);
      tls_error = "cannot set up client verification: " + ossl::take_errors();
      return false;
    }
    SSL_CTX_set_cert_store(&ctx, store);
    STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
    X509_NAME* name = X509_NAME_dup(X509_get_subject_name(id.client_ca.get()));
    if (names != nullptr && name != nullptr) {
      sk_X509_NAME_push(names, name);
      SSL_CTX_set_client_CA_list(&ctx, names);
    }
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_session_id_context(&ctx, kSessionContext, sizeof kSessionContext - 1);
    // No session resumption: every connection makes a full handshake, so its client
    // certificate is verified each time. No client resumes anyway (cpp-httplib's, hence
    // hwca-node's, does not), while the two TLS 1.3 tickets OpenSSL sends by default after
    // each handshake were 29% of its cost; and no session cache grows with TLS 1.2 clients.
    SSL_CTX_set_num_tickets(&ctx, 0);
    SSL_CTX_set_options(&ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(&ctx, SSL_SESS_CACHE_OFF);
    return true;
  });
  HttpsServer* https = http.get();
  http_ = std::move(http);
  if (!http_->is_valid()) {
    return fail(ErrorKind::usage,
                tls_error.empty() ? "cannot set up TLS: " + ossl::take_errors() : tls_error);
  }
  const size_t workers = options_.workers;
  http_->new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  http_->set_read_timeout(options_.read_timeout_s, 0);
  http_->set_write_timeout(options_.write_timeout_s, 0);
  http_->set_keep_alive_timeout(options_.read_timeout_s);
  http_->set_keep_alive_max_count(options_.keep_alive_max);
  http_->set_payload_max_length(options_.max_body);
  http_->set_tcp_nodelay(true);
  routes();
  if (options_.port == 0) {
    port_ = http_->bind_to_any_port(options_.host);
  } else if (http_->bind_to_port(options_.host, options_.port)) {
    port_ = options_.port;
  }
  if (port_ <= 0 || !https->raise_backlog()) {
    port_ = 0;
    return fail(ErrorKind::io, "cannot listen on " + options_.host + ":" +
                                   std::to_string(options_.port) + ": " + error_text(errno));
  }
  return {};
}

void EstServer::routes() {
  auto& http = *http_;
  http.Get(kEstPath, [this](const httplib::Request& req, httplib::Response& res) {
    const std::string label = req.matches[1];
    const std::string op = req.matches[2];
    Reply reply;
    if (op == "cacerts") {
      reply = service_.cacerts();
    } else if (op == "csrattrs") {
      reply = service_.csrattrs(label);
    } else {
      reply = Reply{405, "text/plain", op + " takes POST\n", {{"Allow", "POST"}}};
    }
    send(reply, res);
  });
  http.Post(kEstPath, [this](const httplib::Request& req, httplib::Response& res) {
    const std::string label = req.matches[1];
    const std::string op = req.matches[2];
    Reply reply;
    if (op == "simpleenroll" || op == "simplereenroll") {
      Caller caller;
      caller.address = req.remote_addr + ":" + std::to_string(req.remote_port);
      caller.peer = req.ssl != nullptr ? SSL_get0_peer_certificate(req.ssl) : nullptr;
      read_basic(req, caller);
      reply = service_.enroll(op == "simpleenroll" ? Operation::enroll : Operation::reenroll, label,
                              req.body, req.get_header_value("Content-Type"), caller);
    } else {
      reply = Reply{405, "text/plain", op + " takes GET\n", {{"Allow", "GET"}}};
    }
    send(reply, res);
  });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.text(), "text/plain; version=0.0.4");
  });
  // Replies of 400 and above that no route wrote (404, 413 from the library).
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content(res.status == 413   ? "the request body is too large\n"
                      : res.status == 404 ? "not found: EST is under /.well-known/est/\n"
                                          : "bad request\n",
                      "text/plain");
    }
  });
  // Every reply is counted once, by endpoint: the EST operation, healthz, metrics or other.
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    std::string endpoint = req.matches.size() == 3  ? std::string(req.matches[2])
                           : req.path == "/healthz" ? "healthz"
                           : req.path == "/metrics" ? "metrics"
                                                    : "other";
    metrics_.request(endpoint, res.status);
  });
}

Status EstServer::run() {
  if (!http_ || port_ == 0) return fail(ErrorKind::internal, "the EST server is not bound");
  started_ = true;
  Status result;
  if (!stopping_ && !http_->listen_after_bind() && !stopping_) {
    result =
        fail(ErrorKind::io, "the EST server stopped accepting connections: " + error_text(errno));
  }
  finished_ = true;
  return result;
}

void EstServer::stop() {
  stopping_ = true;
  if (!started_ || !http_) return;  // run() sees stopping_ and returns at once
  while (!finished_) {
    http_->stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace hwca::est
