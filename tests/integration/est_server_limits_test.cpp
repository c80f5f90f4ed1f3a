// The EST server's connection limits, in process over real TLS on loopback (the fixture of
// est_server_fixture.hpp): each test is an attack that held the server before hwca owned
// its connection loop: a chunked body read whole, a request or a TLS handshake trickled a
// byte at a time, hundreds of idle connections from one address, a full queue, CBC cipher
// suites in TLS 1.2 (stop() with an idle connection is in est_server_test.cpp). 127.0.0.2 is the
// attacker's address (loopback takes any 127/8 source), 127.0.0.1 the good client's.
#include <openssl/err.h>

#include <string_view>

#include "est_server_fixture.hpp"

namespace hwca::test {
namespace {

constexpr const char* kAttacker = "127.0.0.2";

std::string dropped(const std::string& reason) {
  return "hwca_est_connections_dropped_total{reason=\"" + reason + "\"}";
}

// A TLS client on OpenSSL itself, for what cpp-httplib's client cannot send: a body in
// pieces while watching for an early reply, a request a byte at a time.
class RawTls {
 public:
  RawTls(int port, X509* ca, int max_version = 0, const char* ciphers = nullptr)
      : ctx_(SSL_CTX_new(TLS_client_method()), SSL_CTX_free) {
    if (!ctx_) throw std::runtime_error("SSL_CTX_new: " + ossl::take_errors());
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_.get()), ca);
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    if (max_version != 0) SSL_CTX_set_max_proto_version(ctx_.get(), max_version);
    if (ciphers != nullptr && SSL_CTX_set_cipher_list(ctx_.get(), ciphers) != 1) {
      throw std::runtime_error(std::string("cipher list ") + ciphers + ": " + ossl::take_errors());
    }
    fd_ = connect_silent(port);
    if (fd_ < 0) throw std::runtime_error("cannot connect");
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_);
    SSL_set_tlsext_host_name(ssl_.get(), "localhost");
  }
  ~RawTls() { ::close(fd_); }

  bool handshake() {
    const bool ok = SSL_connect(ssl_.get()) == 1;
    ERR_clear_error();
    return ok;
  }
  std::string cipher() const { return SSL_get_cipher_name(ssl_.get()); }
  int fd() const { return fd_; }

  bool send(std::string_view data) {
    while (!data.empty()) {
      const int n = SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
      if (n <= 0) {
        ERR_clear_error();
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Whether the server has sent something (or closed) that can be read without waiting.
  bool has_reply() const {
    pollfd p{fd_, POLLIN, 0};
    return SSL_pending(ssl_.get()) > 0 || ::poll(&p, 1, 0) > 0;
  }

  // Everything the server sends until it closes (or `wait` passes).
  std::string read_all(Clock::duration wait) {
    std::string out;
    timeval tv{static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(wait).count()),
               0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    for (int n; (n = SSL_read(ssl_.get(), buf, sizeof buf)) > 0;) {
      out.append(buf, static_cast<size_t>(n));
    }
    ERR_clear_error();
    return out;
  }

 private:
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx_{nullptr, SSL_CTX_free};
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_{nullptr, SSL_free};
  int fd_ = -1;
};

class EstServerLimitsTest : public EstServerTest {
 protected:
  // A chunked POST to `path` of up to `total` bytes in 64 KiB chunks, sent until the
  // server answers; the reply and how much was sent before it came.
  struct Flood {
    std::string reply;
    size_t sent = 0;
    bool answered_early = false;
  };
  Flood chunked_flood(const std::string& path, size_t total) {
    RawTls tls(port_, ca_cert_.get());
    Flood f;
    if (!tls.handshake()) return f;
    tls.send("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: " + est::kPkcs10Type +
             "\r\nTransfer-Encoding: chunked\r\n\r\n");
    const std::string chunk = "10000\r\n" + std::string(0x10000, 'A') + "\r\n";
    while (f.sent < total && !tls.has_reply() && tls.send(chunk)) f.sent += 0x10000;
    f.answered_early = f.sent < total;
    if (!f.answered_early) tls.send("0\r\n\r\n");
    f.reply = tls.read_all(10s);
    return f;
  }
};

// Item 1: a chunked body is cut off with 413 as soon as it passes max_body, not read whole
// (before: 48 MB read into memory, then 400 or 401), and the connection is closed after.
TEST_F(EstServerLimitsTest, AChunkedBodyIsCutOffAtMaxBody) {
  constexpr size_t kTotal = 48u << 20;
  start();
  auto f = chunked_flood(kEnroll, kTotal);
  EXPECT_TRUE(f.answered_early) << "the server read all " << f.sent
                                << " bytes; it answered: " << f.reply.substr(0, 40);
  EXPECT_EQ(f.reply.rfind("HTTP/1.1 413", 0), 0u) << f.reply.substr(0, 200);
  EXPECT_NE(f.reply.find("Connection: close"), std::string::npos) << f.reply.substr(0, 400);
  EXPECT_NE(f.reply.find("too large"), std::string::npos) << f.reply;
  // The socket buffers of loopback hold a few MB; the server read 96 KiB of it.
  EXPECT_LT(f.sent, 24u << 20);
  // Counted under its EST endpoint, not "other".
  EXPECT_EQ(sample(metrics_.text(), requests("simpleenroll", 413)), 1) << metrics_.text();
  std::printf("[ EstServer ] chunked flood: 413 after %zu bytes sent\n", f.sent);
}

// The same outside the EST routes: the library would read the body into memory; the cap on
// bytes per request (64 KiB + 2 x max_body) cuts it.
TEST_F(EstServerLimitsTest, AChunkedBodyToAnotherPathHitsTheRequestCap) {
  constexpr size_t kTotal = 48u << 20;
  start();
  auto f = chunked_flood("/elsewhere", kTotal);
  EXPECT_TRUE(f.answered_early) << "the server read all " << f.sent << " bytes";
  EXPECT_EQ(f.reply.rfind("HTTP/1.", 0), 0u) << f.reply.substr(0, 200);
  EXPECT_NE(f.reply.find("Connection: close"), std::string::npos) << f.reply.substr(0, 400);
  EXPECT_LT(f.sent, 24u << 20);
}

// Item 2: headers sent a byte at a time, each within the read timeout, are cut at the
// request deadline (before: open as long as the bytes kept coming).
TEST_F(EstServerLimitsTest, ARequestTrickledAByteAtATimeIsCutAtItsDeadline) {
  est::ServerOptions options;
  options.read_timeout_s = 2;
  options.request_timeout_s = 3;
  start(options);
  RawTls tls(port_, ca_cert_.get());
  ASSERT_TRUE(tls.handshake());
  const auto began = Clock::now();
  const std::string request =
      "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + std::string(100, 'a') + "\r\n\r\n";
  size_t i = 0;
  while (Clock::now() < began + 12s && i < request.size() && !tls.has_reply() &&
         tls.send(request.substr(i++, 1))) {
    std::this_thread::sleep_for(700ms);
  }
  auto closed = closed_at(tls.fd(), began, began + 1s);
  ASSERT_TRUE(closed || tls.has_reply())
      << "still open after " << ms(Clock::now() - began) << " ms and " << i << " bytes";
  const auto took = Clock::now() - began;
  EXPECT_GE(took, 2500ms);
  EXPECT_LT(took, 6s);
  EXPECT_GE(sample(metrics_.text(), dropped("deadline")), 1) << metrics_.text();
  std::printf("[ EstServer ] a request trickled a byte every 700 ms: cut after %lld ms\n",
              ms(took));
}

// Item 2: a TLS handshake trickled a byte at a time is cut at the handshake deadline (the
// read timeout), whatever the pace of its bytes.
TEST_F(EstServerLimitsTest, AHandshakeTrickledAByteAtATimeIsCutAtItsDeadline) {
  est::ServerOptions options;
  options.read_timeout_s = 1;
  start(options);
  // A real ClientHello, made by an OpenSSL client writing into memory.
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);
  SSL_set_connect_state(ssl.get());
  ASSERT_EQ(SSL_do_handshake(ssl.get()), -1);
  ERR_clear_error();
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  ASSERT_TRUE(data != nullptr && size > 0);
  const std::string hello(data, static_cast<size_t>(size));
  ASSERT_GT(hello.size(), 100u);

  int fd = connect_silent(port_);
  ASSERT_GE(fd, 0);
  const auto began = Clock::now();
  std::optional<Clock::duration> closed;
  for (size_t i = 0; i < hello.size() && !closed && Clock::now() < began + 10s; ++i) {
    if (::send(fd, hello.data() + i, 1, MSG_NOSIGNAL) != 1) break;
    closed = closed_at(fd, began, Clock::now() + 300ms);
  }
  if (!closed) closed = closed_at(fd, began, Clock::now() + 1s);
  ::close(fd);
  ASSERT_TRUE(closed) << "the handshake was still going after " << ms(Clock::now() - began)
                      << " ms";
  EXPECT_GE(*closed, 900ms);
  EXPECT_LT(*closed, 3s);
  EXPECT_GE(sample(metrics_.text(), dropped("deadline")), 1) << metrics_.text();
}

// Item 2: 200 idle connections from one address, reopened as they are dropped, hold no more
// than their share of the workers: /healthz and an enrollment from another address are
// served within a second (before: every worker held, /healthz past the read timeout).
TEST_F(EstServerLimitsTest, TwoHundredIdleConnectionsFromOneAddressLeaveRoomForOthers) {
  constexpr size_t kAttack = 200;
  est::ServerOptions options;
  options.workers = 16;
  start(options);
  std::atomic<bool> attacking{true};
  std::atomic<int> opened{0};
  std::thread attacker([&] {
    std::vector<pollfd> fds;
    for (size_t i = 0; i < kAttack; ++i)
      fds.push_back({connect_silent(port_, kAttacker), POLLIN, 0});
    opened = static_cast<int>(kAttack);
    while (attacking) {
      if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
      for (auto& p : fds) {
        if (p.revents == 0) continue;
        ::close(p.fd);  // dropped (or a reply, which is not expected): open another
        p.fd = connect_silent(port_, kAttacker);
        ++opened;
      }
    }
    for (auto& p : fds) ::close(p.fd);
  });
  while (opened < static_cast<int>(kAttack)) std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(300ms);  // the server has taken what it takes

  auto cli = client();
  auto t0 = Clock::now();
  auto health = cli->Get("/healthz");
  const auto health_took = Clock::now() - t0;
  auto key = software_key();
  const std::string token = add_token("node-flood");
  t0 = Clock::now();
  auto a = answer_of(client()->Post(kEnroll, basic("node-flood", token),
                                    request_body(key.get(), node_subject("node-flood").get()),
                                    est::kPkcs10Type));
  const auto enroll_took = Clock::now() - t0;
  attacking = false;
  attacker.join();

  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 200);
  EXPECT_LT(health_took, 1s) << ms(health_took) << " ms";
  EXPECT_EQ(a.status, 200) << a.body << httplib::to_string(a.error);
  EXPECT_LT(enroll_took, 1s) << ms(enroll_took) << " ms";
  EXPECT_GT(sample(metrics_.text(), dropped("per_client")), 0) << metrics_.text();
  std::printf(
      "[ EstServer ] beside %zu idle connections from %s (%d opened): healthz %lld ms, "
      "enrollment %lld ms\n",
      kAttack, kAttacker, opened.load(), ms(health_took), ms(enroll_took));
}

// Item 2: with every worker busy and the queue full, a new connection is closed at once
// (before: it waited, unbounded, for a worker).
TEST_F(EstServerLimitsTest, AConnectionBeyondAFullQueueIsClosedAtOnce) {
  est::ServerOptions options;
  options.workers = 1;
  options.queue = 1;
  options.read_timeout_s = 5;
  start(options);
  int held = connect_silent(port_);  // the worker waits for its handshake
  std::this_thread::sleep_for(200ms);
  int waiting = connect_silent(port_);  // in the queue
  std::this_thread::sleep_for(200ms);
  const auto began = Clock::now();
  int refused = connect_silent(port_);
  ASSERT_GE(held, 0);
  ASSERT_GE(waiting, 0);
  ASSERT_GE(refused, 0);
  auto closed = closed_at(refused, began, began + 3s);
  EXPECT_TRUE(closed) << "the connection beyond the queue was kept";
  if (closed) {
    EXPECT_LT(*closed, 1s);
  }
  EXPECT_FALSE(closed_at(waiting, began, Clock::now())) << "the queued connection was dropped";
  for (int fd : {held, waiting, refused}) ::close(fd);
  EXPECT_EQ(sample(metrics_.text(), dropped("queue_full")), 1) << metrics_.text();
}

// Item 9: TLS 1.2 offers ECDHE with AEAD ciphers only (ECDSA here; the RSA twins are in the
// same list); CBC suites fail the handshake. TLS 1.3 is as before.
TEST_F(EstServerLimitsTest, Tls12OffersOnlyEcdheWithAeadCiphers) {
  start();
  for (const char* cbc : {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
                          "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384"}) {
    RawTls tls(port_, ca_cert_.get(), TLS1_2_VERSION, cbc);
    EXPECT_FALSE(tls.handshake()) << cbc << " was accepted";
  }
  for (const char* aead : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                           "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
    RawTls tls(port_, ca_cert_.get(), TLS1_2_VERSION, aead);
    ASSERT_TRUE(tls.handshake()) << aead << " was refused";
    EXPECT_EQ(tls.cipher(), aead);
  }
  RawTls tls13(port_, ca_cert_.get());
  ASSERT_TRUE(tls13.handshake());
  EXPECT_EQ(tls13.cipher(), "TLS_AES_256_GCM_SHA384");
}

}  // namespace
}  // namespace hwca::test
