#include "est/est_server.hpp"

#include <httplib.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "attest/protocol.hpp"
#include "common/text.hpp"
#include "est/est_codec.hpp"
#include "est/memory_stream.hpp"
#include "est/tls_stream.hpp"

namespace hwca::est {

// cpp-httplib's server for parsing, routing and replying only: hwca's workers hand it one
// request at a time on their own Stream (process_request is protected in the library).
class EstServer::Http : public httplib::Server {
 public:
  using httplib::Server::process_request;
};

namespace {

using std::chrono::seconds;

constexpr const char* kEstPath =
    R"(/\.well-known/est/(?:([A-Za-z0-9._-]+)/)?(cacerts|csrattrs|simpleenroll|simplereenroll))";
// Bytes on the wire a request may take beyond twice max_body: its request line and headers
// (and the framing of a chunked body, which the body's own limit does not see).
constexpr size_t kHeaderAllowance = size_t{64} * 1024;

// The reply ends the connection: the request's body was not read (whole).
void close_after(const httplib::Request& req, httplib::Response& res) {
  res.set_header("Connection", "close");
  if (TlsStream* stream = TlsStream::of(req.ssl)) stream->close_after_reply();
}

void text_reply(httplib::Response& res, int status, const std::string& text) {
  res.status = status;
  res.set_content(text, "text/plain");
}

// The request body, read in pieces and given up as soon as it passes `max`: 0, or the
// status to answer (413 too large, 408 too slow, 400 broken off or malformed framing, 415
// an encoding the library cannot undo).
int read_body(const httplib::Request& req, const httplib::Response& res,
              const httplib::ContentReader& content, size_t max, std::string& body) {
  if (req.has_header("Content-Length") && req.get_header_value<uint64_t>("Content-Length") > max) {
    return 413;
  }
  bool too_large = false;
  const bool ok = content([&](const char* data, size_t n) {
    if (n > max - body.size()) {
      too_large = true;
      return false;
    }
    body.append(data, n);
    return true;
  });
  if (ok) return 0;
  const TlsStream* stream = TlsStream::of(req.ssl);
  if (too_large || (stream != nullptr && stream->over_limit())) return 413;
  if (stream != nullptr && stream->timed_out()) return 408;
  return res.status >= 400 ? res.status : 400;
}

// read_body, and the reply that ends the connection when it fails: false then.
bool read_request_body(const httplib::Request& req, httplib::Response& res,
                       const httplib::ContentReader& content, size_t max, std::string& body) {
  const int status = read_body(req, res, content, max, body);
  if (status == 0) return true;
  text_reply(res, status,
             status == 413   ? "the request body is too large\n"
             : status == 408 ? "the request took too long\n"
                             : "the request body is malformed or was cut off\n");
  close_after(req, res);
  return false;
}

void send(const Reply& reply, httplib::Response& res) {
  res.status = reply.status;
  for (const auto& [name, value] : reply.headers) res.set_header(name, value);
  res.set_content(reply.body, reply.content_type);
}

// Who sent the request: its address and its client certificate, if any.
Caller caller_of(const httplib::Request& req) {
  Caller caller;
  caller.address = req.remote_addr + ":" + std::to_string(req.remote_port);
  caller.peer = req.ssl != nullptr ? SSL_get0_peer_certificate(req.ssl) : nullptr;
  return caller;
}

// HTTP Basic credentials (est_codec.hpp), if the request has them.
void read_basic(const httplib::Request& req, Caller& caller) {
  auto basic = parse_basic_authorization(req.get_header_value("Authorization"));
  if (!basic) return;
  caller.has_basic = true;
  caller.basic_user = std::move(basic->user);
  caller.basic_password = std::move(basic->password);
}

}  // namespace

EstServer::EstServer(EstService& service, Metrics& metrics, ServerOptions options)
    : service_(service), metrics_(metrics), options_(std::move(options)) {}

EstServer::~EstServer() = default;

Status EstServer::bind(const TlsIdentity& id) {
  auto tls = make_server_tls_context(id);
  if (!tls) return tl::unexpected(tls.error());
  tls_ = std::move(*tls);
  // A client that goes away while its reply is written must not end the process.
  ::signal(SIGPIPE, SIG_IGN);
  make_http();
  queue_ = std::make_unique<ConnectionQueue>(
      options_.queue != 0 ? options_.queue : options_.workers, options_.max_client_connections);
  return listen();
}

void EstServer::make_http() {
  http_ = std::make_unique<Http>();
  http_->set_keep_alive_timeout(options_.read_timeout_s);
  http_->set_keep_alive_max_count(options_.keep_alive_max);
  http_->set_payload_max_length(options_.max_body);
  routes();
}

std::string EstServer::answer(std::string_view raw) {
  if (!http_) make_http();
  MemoryStream stream(raw);
  bool closed = false;
  http_->process_request(stream, /*close_connection=*/true, closed, [](httplib::Request&) {});
  return stream.written();
}

Status EstServer::listen() {
  if (port_ != 0) return {};
  if (auto bound = listener_.bind(options_.host, options_.port); !bound) return bound;
  port_ = listener_.port();
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
  // The body is read here, in pieces, so that one too large is cut off at max_body.
  http.Post(kEstPath, [this](const httplib::Request& req, httplib::Response& res,
                             const httplib::ContentReader& content) {
    const std::string label = req.matches[1];
    const std::string op = req.matches[2];
    if (op != "simpleenroll" && op != "simplereenroll") {
      send(Reply{405, "text/plain", op + " takes GET\n", {{"Allow", "GET"}}}, res);
      close_after(req, res);
      return;
    }
    const std::string type = req.get_header_value("Content-Type");
    std::string body;
    // A multipart body is not read (the library would parse it): the service refuses its type.
    const bool multipart = type.rfind("multipart/form-data", 0) == 0;
    if (!multipart && !read_request_body(req, res, content, options_.max_body, body)) return;
    Caller caller = caller_of(req);
    read_basic(req, caller);
    send(service_.enroll(op == "simpleenroll" ? Operation::enroll : Operation::reenroll, label,
                         body, type, caller),
         res);
    if (multipart) close_after(req, res);
  });
  // TPM attestation's two rounds (JSON bodies, est_service_attest.cpp).
  auto attest = [this](bool challenge) {
    return [this, challenge](const httplib::Request& req, httplib::Response& res,
                             const httplib::ContentReader& content) {
      std::string body;
      if (!read_request_body(req, res, content, options_.max_body, body)) return;
      Caller caller = caller_of(req);
      const std::string type = req.get_header_value("Content-Type");
      send(challenge ? service_.attest_challenge(body, type, caller)
                     : service_.attest_enroll(body, type, caller),
           res);
    };
  };
  http.Post(attest::kChallengePath, attest(true));
  http.Post(attest::kEnrollPath, attest(false));
  http.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    send(service_.healthz(), res);
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.text(), "text/plain; version=0.0.4");
  });
  // Replies of 400 and above that no route wrote (404, and 400 or 413 from the library for
  // requests outside the EST routes: the connection is closed after those).
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 400 || res.status == 413) close_after(req, res);
    if (res.body.empty()) {
      res.set_content(res.status == 413   ? "the request body is too large\n"
                      : res.status == 404 ? "not found: EST is under /.well-known/est/\n"
                                          : "bad request\n",
                      "text/plain");
    }
  });
  // Every reply is counted once, by endpoint: the EST operation, healthz, metrics or other.
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    std::string endpoint = req.matches.size() == 3                ? std::string(req.matches[2])
                           : req.path == "/healthz"               ? "healthz"
                           : req.path == "/metrics"               ? "metrics"
                           : req.path == attest::kChallengePath ? "attest_challenge"
                           : req.path == attest::kEnrollPath    ? "attest_enroll"
                                                                  : "other";
    metrics_.request(endpoint, res.status);
  });
}

void EstServer::admit(Accepted a) {
  const int fd = a.fd;
  switch (queue_->offer(std::move(a))) {
    case ConnectionQueue::Admit::queued:
      return;
    case ConnectionQueue::Admit::per_client:
      metrics_.connection_dropped("per_client");
      break;
    case ConnectionQueue::Admit::queue_full:
      metrics_.connection_dropped("queue_full");
      break;
    case ConnectionQueue::Admit::closed:
      break;
  }
  ::close(fd);
}

void EstServer::work() {
  while (auto a = queue_->take()) {
    serve(*a);
    ::close(a->fd);
    queue_->done(a->address);
  }
}

// One connection: the TLS handshake, then its requests until it closes, stays idle, misses
// a limit, or the server stops.
void EstServer::serve(const Accepted& a) {
  ossl::Ptr<SSL> ssl(SSL_new(tls_.get()));
  if (!ssl || SSL_set_fd(ssl.get(), a.fd) != 1) {
    ERR_clear_error();
    return;
  }
  TlsStream stream(ssl.get(), a, listener_.wake_fd(), seconds(options_.read_timeout_s),
                   seconds(options_.write_timeout_s));
  if (!stream.handshake(Clock::now() + seconds(options_.read_timeout_s))) {
    if (stream.timed_out()) metrics_.connection_dropped("deadline");
    return;
  }
  const size_t max_request = kHeaderAllowance + 2 * options_.max_body;
  for (size_t left = options_.keep_alive_max; left > 0; --left) {
    if (!stream.wait_for_request(seconds(options_.read_timeout_s))) break;
    stream.begin_request(Clock::now() + seconds(options_.request_timeout_s), max_request);
    const bool last = left == 1 || stopping_;
    bool closed = false;
    bool parsed = false;  // false: the request line or headers were refused (400, 414)
    const bool written = http_->process_request(stream, last, closed, [&](httplib::Request& req) {
      req.ssl = ssl.get();
      parsed = true;
    });
    if (stream.timed_out()) metrics_.connection_dropped("deadline");
    if (!written || closed || last || !parsed || stream.must_close()) break;
  }
  if (stream.fatal()) return;
  SSL_shutdown(ssl.get());  // close_notify, if it goes out at once
  ERR_clear_error();
  if (stream.must_close() && !stream.timed_out()) drain_before_close(a.fd);
}

Status EstServer::run() {
  if (!http_ || port_ == 0) return fail(ErrorKind::internal, "the EST server is not bound");
  started_ = true;
  Status result;
  if (!stopping_) {
    std::vector<std::thread> workers;
    for (size_t i = 0; i < options_.workers; ++i) workers.emplace_back([this] { work(); });
    result = listener_.run([this](Accepted a) { admit(std::move(a)); });
    listener_.stop();  // if it failed on its own: the idle connections end too
    for (auto& a : queue_->close()) ::close(a.fd);
    for (auto& t : workers) t.join();
    service_.flush();  // the refusals summed up and not yet audited
  }
  {
    std::lock_guard lock(mu_);
    finished_ = true;
  }
  finished_cv_.notify_all();
  return result;
}

void EstServer::stop() {
  stopping_ = true;
  listener_.stop();
  if (!started_) return;  // run() sees stopping_ and returns at once
  std::unique_lock lock(mu_);
  finished_cv_.wait(lock, [this] { return finished_; });
}

}  // namespace hwca::est
