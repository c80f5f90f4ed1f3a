// The fixture of the in-process EST server tests (est_server_test.cpp, est_server_limits_
// test.cpp), with their helpers: a CA whose ec-p256 key is in the shared SoftHSM2 token, in
// a temporary home; EstServer bound to a free port of 127.0.0.1 with a TLS certificate that
// CA issued for a software key; run() on a thread of its own; clients on cpp-httplib's
// SSLClient (keep-alive).
//
// The process has one CryptoContext in OpenSSL's default library context, made on first use
// and shared by every test of both files: another process_default context cannot be made in
// the same process.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "ca/audit_log.hpp"
#include "ca/bootstrap_token.hpp"
#include "ca/ca_init.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/dn.hpp"
#include "ca/issuer.hpp"
#include "ca/serial.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "common/base64.hpp"
#include "common/secure_string.hpp"
#include "est/est_codec.hpp"
#include "est/est_server.hpp"
#include "est/est_service.hpp"
#include "est/metrics.hpp"
#include "integration_env.hpp"
#include "support/forwarding_store.hpp"
#include "support/temp_dir.hpp"
#include "support/test_csr.hpp"

namespace hwca::test {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kCa = "est-ca";
constexpr const char* kEnroll = "/.well-known/est/simpleenroll";
constexpr const char* kReenroll = "/.well-known/est/simplereenroll";

// The process's one default-context CryptoContext. Kept until exit on purpose: the token
// environment shuts the tokens down after the last test, and the provider must not be
// unloaded around that.
inline const ca::CryptoContext& process_crypto() {
  static const ca::CryptoContext* crypto = [] {
    auto made = ca::CryptoContext::create(ca::CryptoContext::Scope::process_default);
    if (!made) throw std::runtime_error("process_default CryptoContext: " + made.error().message);
    return made->release();
  }();
  return *crypto;
}

// The CA key, made once in the shared token under a label no other test uses.
inline const std::string& ca_key_uri() {
  static const std::string uri = make_key("est-server-ca", tokens::KeyType::ec_p256);
  return uri;
}

// A software P-256 key from OpenSSL's default provider (the hwca provider is loaded in the
// same library context, so the fetch names its provider).
inline ossl::Ptr<EVP_PKEY> software_key() {
  ossl::Ptr<EVP_PKEY> k(EVP_PKEY_Q_keygen(nullptr, ossl::kDefaultProps, "EC", "P-256"));
  if (!k) throw std::runtime_error("cannot make a P-256 key: " + ossl::take_errors());
  return k;
}

inline ossl::Ptr<X509_NAME> node_subject(const std::string& node,
                                         const std::string& group = "system:nodes") {
  return name_of({{"CN", "system:node:" + node}, {"O", group}});
}

inline std::string request_body(EVP_PKEY* key, const X509_NAME* subject) {
  return base64_encode(csr_der(make_csr(key, subject).get()));
}

inline std::string serial_of(const X509* cert) {
  return ca::serial_hex(X509_get0_serialNumber(cert));
}

inline ossl::Ptr<X509> dup(const X509* cert) {
  return ossl::Ptr<X509>(X509_dup(const_cast<X509*>(cert)));
}

// The value of one sample of the exposition ("name{labels}"), or -1 when it is absent.
inline long long sample(const std::string& text, const std::string& series) {
  const std::string needle = "\n" + series + " ";
  const std::string all = "\n" + text;
  size_t pos = all.find(needle);
  if (pos == std::string::npos) return -1;
  return std::atoll(all.c_str() + pos + needle.size());
}

inline std::string requests(const std::string& endpoint, int code) {
  return "hwca_est_requests_total{endpoint=\"" + endpoint + "\",code=\"" + std::to_string(code) +
         "\"}";
}
inline std::string rejected(const std::string& reason) {
  return "hwca_est_rejected_total{reason=\"" + reason + "\"}";
}
inline std::string issued(const std::string& label) {
  return "hwca_est_issued_total{label=\"" + label + "\"}";
}

// A plain TCP connection to the server that says nothing, from `source` (another loopback
// address, 127.0.0.2, is another client); -1 if it cannot connect.
inline int connect_silent(int port, const char* source = "127.0.0.1") {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
    ::close(fd);
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// When the peer closed `fd` (end of stream or reset), measured from `since`; nullopt if it
// is still open at `deadline`. Bytes the peer sends (none expected) are read and dropped.
inline std::optional<Clock::duration> closed_at(int fd, Clock::time_point since,
                                                Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::max<long long>(0, left.count())));
    if (rc <= 0) return std::nullopt;
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return Clock::now() - since;
    }
  }
}

inline long long ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// The issuance store the issuer writes through: everything goes to the SQLite store, and
// every successful record() is remembered as one batch of serials.
class CountingStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;

  Status record(const std::vector<ca::IssuedCert>& batch) override {
    auto ok = inner_.record(batch);
    if (ok) {
      std::vector<std::string> serials;
      for (const auto& c : batch) serials.push_back(c.serial);
      std::lock_guard lock(mu_);
      batches_.push_back(std::move(serials));
    }
    return ok;
  }

  std::vector<std::vector<std::string>> batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  void forget() {
    std::lock_guard lock(mu_);
    batches_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<std::vector<std::string>> batches_;
};

// What a client got back.
struct Answer {
  bool transport_ok = false;
  httplib::Error error = httplib::Error::Success;
  int status = 0;
  std::string body;
  std::string www_authenticate;
  std::vector<ossl::Ptr<X509>> certs;  // a 200's certificates; empty if it did not decode
  std::string decode_error;
};

inline Answer answer_of(httplib::Result res) {
  Answer a;
  a.error = res.error();
  if (!res) return a;
  a.transport_ok = true;
  a.status = res->status;
  a.body = res->body;
  a.www_authenticate = res->get_header_value("WWW-Authenticate");
  if (a.status == 200) {
    auto certs = est::decode_certs_only_body(a.body);
    if (certs) {
      a.certs = std::move(*certs);
    } else {
      a.decode_error = certs.error().message;
    }
  }
  return a;
}

inline httplib::Headers basic(const std::string& user, const std::string& password) {
  return {{"Authorization", "Basic " + base64_encode(user + ":" + password)}};
}

// A node enrolled for a test: its name, key, first certificate and renewal request body.
struct EnrolledNode {
  std::string name;
  ossl::Ptr<EVP_PKEY> key;
  ossl::Ptr<X509> cert;
  std::string body;
};

class EstServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto home = ca::Home::open(dir_.file("home"), /*create=*/true);
    ASSERT_TRUE(home) << home.error().message;
    home_.emplace(std::move(*home));
    auto db = ca::SqliteIssuanceStore::open(home_->path(home_->config().database));
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(*db);
    store_ = std::make_unique<CountingStore>(*db_);
    ca::InitCaRequest req;
    req.name = kCa;
    req.key_uri = ca_key();
    req.subject = "/CN=hwca EST test CA";
    req.key_options = key_options();
    req.requester = "test:est";
    req.store = db_.get();
    auto made = ca::init_ca(*home_, process_crypto(), req);
    ASSERT_TRUE(made) << made.error().message;
    ca_cert_ = std::move(made->cert);
    auto issuer = ca::Issuer::open(*home_, process_crypto(), *store_, kCa, key_options());
    ASSERT_TRUE(issuer) << issuer.error().message;
    issuer_ = std::move(*issuer);
    audit_path_ = home_->path(home_->config().audit_log);
    audit_ = std::make_unique<ca::AuditLog>(audit_path_);
    ca_pem_ = dir_.file("ca.pem");
    ossl::Ptr<BIO> bio(BIO_new_file(ca_pem_.c_str(), "w"));
    ASSERT_TRUE(bio && PEM_write_bio_X509(bio.get(), ca_cert_.get()) == 1);
  }

  // The CA's key: the shared token's unless a test's fixture keeps it elsewhere (a TPM).
  virtual std::string ca_key() const { return ca_key_uri(); }

  void TearDown() override {
    stop_server();
    server_.reset();
    service_.reset();
  }

  // Service and server on 127.0.0.1, a free port, with a TLS certificate the CA issues now
  // for TLS_KEY (a software key when none is given); bound, not yet running.
  void bind_server(est::ServerOptions options = {}, ossl::Ptr<EVP_PKEY> tls_key = nullptr) {
    options.host = "127.0.0.1";
    options.port = 0;
    service_ = std::make_unique<est::EstService>(*issuer_, *store_, *db_, *audit_, metrics_,
                                                 process_crypto().libctx(),
                                                 std::vector<const X509*>{ca_cert_.get()});
    service_->set_log([this](const std::string& line) {
      std::lock_guard lock(log_mu_);
      log_.push_back(line);
    });
    if (configure_) configure_(*service_);
    server_ = std::make_unique<est::EstServer>(*service_, metrics_, options);

    auto key = tls_key ? std::move(tls_key) : software_key();
    auto csr = simple_csr(key.get(), "localhost", "DNS:localhost,IP:127.0.0.1");
    ca::SignRequest request;
    request.csr = csr_der(csr.get());
    request.source = "the test server's TLS request";
    request.profile = "server";
    request.requester = "test:est";
    auto tls = issuer_->issue(request);
    ASSERT_TRUE(tls) << tls.error().message;
    est::TlsIdentity id;
    id.cert = dup(tls->cert.get());
    id.chain.push_back(dup(ca_cert_.get()));
    id.key = std::move(key);
    id.client_ca = dup(ca_cert_.get());
    auto bound = server_->bind(id);
    ASSERT_TRUE(bound) << bound.error().message;
    port_ = server_->port();
    ASSERT_GT(port_, 0);
  }

  // bind_server, then run() on a thread; returns once the server answers /healthz.
  void start(est::ServerOptions options = {}, ossl::Ptr<EVP_PKEY> tls_key = nullptr) {
    bind_server(options, std::move(tls_key));
    if (HasFatalFailure()) return;
    ran_ = false;
    runner_ = std::thread([this] {
      run_result_ = server_->run();
      ran_ = true;
    });
    auto cli = client();
    auto give_up = Clock::now() + 20s;
    for (;;) {
      auto res = cli->Get("/healthz");
      if (res && res->status == 200) break;
      ASSERT_LT(Clock::now(), give_up) << "the server never answered /healthz";
      std::this_thread::sleep_for(20ms);
    }
  }

  // stop(), then wait for run() to return. stop() is repeated now and then: called before
  // run() is accepting it has nothing to stop (cpp-httplib's Server::stop() acts only
  // once listen has begun).
  void stop_server() {
    if (!runner_.joinable()) return;
    auto give_up = Clock::now() + 60s;
    server_->stop();
    for (auto next = Clock::now() + 5s; !ran_; std::this_thread::sleep_for(10ms)) {
      if (Clock::now() > give_up) {
        std::fprintf(stderr, "EstServer::run() did not return within 60 s of stop()\n");
        std::abort();
      }
      if (Clock::now() > next) {
        server_->stop();
        next = Clock::now() + 5s;
      }
    }
    runner_.join();
  }

  std::unique_ptr<httplib::SSLClient> client(X509* cert = nullptr, EVP_PKEY* key = nullptr) const {
    auto cli = cert != nullptr ? std::make_unique<httplib::SSLClient>("127.0.0.1", port_, cert, key)
                               : std::make_unique<httplib::SSLClient>("127.0.0.1", port_);
    if (!cli->is_valid()) throw std::runtime_error("SSLClient: " + ossl::take_errors());
    // The CA's file and nothing else: with no file or directory set, cpp-httplib adds the
    // system's trust bundle (SSL_CTX_set_default_verify_paths) on the first request, after
    // its TCP connect, and parsing those ~150 roots under ThreadSanitizer outlasts the
    // server's handshake deadline.
    cli->set_ca_cert_path(ca_pem_.c_str());
    cli->enable_server_certificate_verification(true);
    cli->set_connection_timeout(5, 0);
    cli->set_read_timeout(30, 0);
    cli->set_write_timeout(30, 0);
    cli->set_keep_alive(true);
    return cli;
  }

  // A bootstrap token for `node`, valid for an hour; its text.
  std::string add_token(const std::string& node, std::vector<std::string> addresses = {}) {
    auto made = ca::make_bootstrap_token();
    if (!made) throw std::runtime_error(made.error().message);
    ca::BootstrapToken token;
    token.id = made->id;
    token.node = node;
    token.addresses = std::move(addresses);
    token.created_at = std::time(nullptr);
    token.expires_at = token.created_at + 3600;
    token.created_by = "test:est";
    auto added = db_->add_token(token, ca::bootstrap_token_hash(made->text));
    if (!added) throw std::runtime_error(added.error().message);
    return made->text;
  }

  // A node's first certificate, for `key`, over EST with a fresh bootstrap token.
  ossl::Ptr<X509> first_certificate(httplib::SSLClient& cli, const std::string& node,
                                    EVP_PKEY* key) {
    const std::string token = add_token(node);
    auto a = answer_of(cli.Post(kEnroll, basic(node, token),
                                request_body(key, node_subject(node).get()), est::kPkcs10Type));
    if (a.status != 200 || a.certs.size() != 1) {
      throw std::runtime_error("first enrollment of " + node + ": " + std::to_string(a.status) +
                               " " + a.body + httplib::to_string(a.error));
    }
    return std::move(a.certs.front());
  }

  // `count` nodes "<prefix>0".., each with a software key, its first certificate and a
  // renewal request for that key and subject.
  std::vector<EnrolledNode> enroll_nodes(const std::string& prefix, int count) {
    std::vector<EnrolledNode> nodes(static_cast<size_t>(count));
    auto cli = client();
    for (int t = 0; t < count; ++t) {
      EnrolledNode& n = nodes[static_cast<size_t>(t)];
      n.name = prefix + std::to_string(t);
      n.key = software_key();
      n.cert = first_certificate(*cli, n.name, n.key.get());
      n.body = request_body(n.key.get(), X509_get_subject_name(n.cert.get()));
    }
    return nodes;
  }

  // A certificate this CA issued now to `node` for `key`: chains to the CA for client
  // authentication, with the node's subject, and recorded as kubelet-client.
  void expect_node_certificate(const X509* cert, const std::string& node, EVP_PKEY* key) {
    SCOPED_TRACE("certificate of " + node);
    ossl::Ptr<X509_STORE> trust(X509_STORE_new());
    X509_STORE_add_cert(trust.get(), ca_cert_.get());
    ossl::Ptr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
    ASSERT_EQ(X509_STORE_CTX_init(ctx.get(), trust.get(), const_cast<X509*>(cert), nullptr), 1);
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
    EXPECT_EQ(X509_verify_cert(ctx.get()), 1)
        << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
    EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert), node_subject(node).get()), 0)
        << ca::dn_text(X509_get_subject_name(cert));
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert), key), 1) << "not the requested key";
    auto row = db_->find(kCa, serial_of(cert));
    ASSERT_TRUE(row) << row.error().message;
    ASSERT_TRUE(*row) << "serial " << serial_of(cert) << " is not in the issuance database";
    EXPECT_EQ((*row)->der, ca::cert_der(cert));
    EXPECT_EQ((*row)->profile, "kubelet-client");
    EXPECT_EQ((*row)->subject, ca::dn_text(node_subject(node).get()));
  }

  // Audit events (name -> count) and cert.issued serials (serial -> count) after the
  // first `skip` lines; the chain must verify.
  struct AuditView {
    std::map<std::string, int> events;
    std::map<std::string, int> issued;
    std::vector<nlohmann::json> rejected;
    size_t lines = 0;
  };
  AuditView audit_view(size_t skip = 0) {
    AuditView v;
    size_t n = 0;
    auto ok = ca::AuditLog::verify(audit_path_, [&](const nlohmann::json& line) {
      if (n++ < skip) return;
      const std::string event = line.at("event");
      ++v.events[event];
      if (event == "cert.issued") ++v.issued[line.at("data").at("serial").get<std::string>()];
      if (event == "est.rejected") v.rejected.push_back(line.at("data"));
    });
    EXPECT_TRUE(ok) << ok.error().message;
    if (ok) v.lines = ok->lines;
    return v;
  }

  // The service's operator log (stderr in hwca serve), so far.
  std::vector<std::string> log_lines() {
    std::lock_guard lock(log_mu_);
    return log_;
  }

  // The est.rejected.summary lines' counts by reason, summed.
  std::map<std::string, uint64_t> summarised(size_t skip = 0) {
    std::map<std::string, uint64_t> out;
    size_t n = 0;
    auto ok = ca::AuditLog::verify(audit_path_, [&](const nlohmann::json& line) {
      if (n++ < skip || line.at("event") != "est.rejected.summary") return;
      for (const auto& [reason, count] : line.at("data").at("reasons").items()) {
        out[reason] += count.get<uint64_t>();
      }
    });
    EXPECT_TRUE(ok) << ok.error().message;
    return out;
  }

  size_t audit_lines() {
    auto ok = ca::AuditLog::verify(audit_path_);
    EXPECT_TRUE(ok) << ok.error().message;
    return ok ? ok->lines : 0;
  }

  TempDir dir_{"hwca-est"};
  std::optional<ca::Home> home_;
  std::unique_ptr<ca::SqliteIssuanceStore> db_;
  std::unique_ptr<CountingStore> store_;
  std::unique_ptr<ca::Issuer> issuer_;
  ossl::Ptr<X509> ca_cert_;
  std::string audit_path_, ca_pem_;
  std::unique_ptr<ca::AuditLog> audit_;
  est::Metrics metrics_;
  // Called on the new service before it serves (attestation tests enable it here).
  std::function<void(est::EstService&)> configure_;
  std::unique_ptr<est::EstService> service_;
  std::unique_ptr<est::EstServer> server_;
  int port_ = 0;
  std::thread runner_;
  std::atomic<bool> ran_{false};
  Status run_result_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

}  // namespace hwca::test
