// The EST server in process, over real TLS sockets on 127.0.0.1 (also run under the
// sanitizers, which the command-line scripts that start `hwca serve` are not): a CA whose
// ec-p256 key is in the shared SoftHSM2 token, in a temporary home; EstServer bound to a
// free port with a TLS certificate that CA issued for a software key; run() on a thread of
// its own; clients on cpp-httplib's SSLClient (keep-alive) and hwca-node's EstClient.
//
// The process has one CryptoContext in OpenSSL's default library context (cpp-httplib's
// SSL_CTXs live there), made on first use and shared by every test of this file: another
// process_default context cannot be made in the same process.
//
// The issuance store the issuer writes through is wrapped to count record() calls: group
// commit shows as fewer database batches than certificates.
#include "est/est_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
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
#include "est/est_service.hpp"
#include "est/metrics.hpp"
#include "integration_env.hpp"
#include "node/est_client.hpp"
#include "p11kit_token_server.hpp"
#include "support/forwarding_store.hpp"
#include "support/temp_dir.hpp"
#include "support/test_csr.hpp"

namespace hwca::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kCa = "est-ca";
constexpr const char* kEnroll = "/.well-known/est/simpleenroll";
constexpr const char* kReenroll = "/.well-known/est/simplereenroll";

// The process's one default-context CryptoContext. Kept until exit on purpose: the token
// environment shuts the tokens down after the last test, and the provider must not be
// unloaded around that.
const ca::CryptoContext& process_crypto() {
  static const ca::CryptoContext* crypto = [] {
    auto made = ca::CryptoContext::create(ca::CryptoContext::Scope::process_default);
    if (!made) throw std::runtime_error("process_default CryptoContext: " + made.error().message);
    return made->release();
  }();
  return *crypto;
}

// The CA key, made once in the shared token under a label no other test uses.
const std::string& ca_key_uri() {
  static const std::string uri = make_key("est-server-ca", tokens::KeyType::ec_p256);
  return uri;
}

// A software P-256 key from OpenSSL's default provider (the hwca provider is loaded in the
// same library context, so the fetch names its provider).
ossl::Ptr<EVP_PKEY> software_key() {
  ossl::Ptr<EVP_PKEY> k(EVP_PKEY_Q_keygen(nullptr, ossl::kDefaultProps, "EC", "P-256"));
  if (!k) throw std::runtime_error("cannot make a P-256 key: " + ossl::take_errors());
  return k;
}

ossl::Ptr<X509_NAME> node_subject(const std::string& node,
                                  const std::string& group = "system:nodes") {
  return name_of({{"CN", "system:node:" + node}, {"O", group}});
}

std::string request_body(EVP_PKEY* key, const X509_NAME* subject) {
  return base64_encode(csr_der(make_csr(key, subject).get()));
}

std::string serial_of(const X509* cert) { return ca::serial_hex(X509_get0_serialNumber(cert)); }

ossl::Ptr<X509> dup(const X509* cert) { return ossl::Ptr<X509>(X509_dup(const_cast<X509*>(cert))); }

// The value of one sample of the exposition ("name{labels}"), or -1 when it is absent.
long long sample(const std::string& text, const std::string& series) {
  const std::string needle = "\n" + series + " ";
  const std::string all = "\n" + text;
  size_t pos = all.find(needle);
  if (pos == std::string::npos) return -1;
  return std::atoll(all.c_str() + pos + needle.size());
}

std::string requests(const std::string& endpoint, int code) {
  return "hwca_est_requests_total{endpoint=\"" + endpoint + "\",code=\"" + std::to_string(code) +
         "\"}";
}
std::string rejected(const std::string& reason) {
  return "hwca_est_rejected_total{reason=\"" + reason + "\"}";
}
std::string issued(const std::string& label) {
  return "hwca_est_issued_total{label=\"" + label + "\"}";
}

// A plain TCP connection to the server that says nothing; -1 if it cannot connect.
int connect_silent(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
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
std::optional<Clock::duration> closed_at(int fd, Clock::time_point since,
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

long long ms(Clock::duration d) {
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

Answer answer_of(httplib::Result res) {
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

httplib::Headers basic(const std::string& user, const std::string& password) {
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
    req.key_uri = ca_key_uri();
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

  void TearDown() override {
    stop_server();
    server_.reset();
    service_.reset();
  }

  // Service and server on 127.0.0.1, a free port, with a TLS certificate the CA issues now;
  // bound, not yet running.
  void bind_server(est::ServerOptions options = {}) {
    options.host = "127.0.0.1";
    options.port = 0;
    service_ = std::make_unique<est::EstService>(*issuer_, *store_, *db_, *audit_, metrics_,
                                                 process_crypto().libctx(),
                                                 std::vector<const X509*>{ca_cert_.get()});
    server_ = std::make_unique<est::EstServer>(*service_, metrics_, options);

    auto key = software_key();
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
  void start(est::ServerOptions options = {}) {
    bind_server(options);
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
    X509_STORE* trust = X509_STORE_new();
    X509_STORE_add_cert(trust, ca_cert_.get());
    cli->set_ca_cert_store(trust);
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
  std::unique_ptr<est::EstService> service_;
  std::unique_ptr<est::EstServer> server_;
  int port_ = 0;
  std::thread runner_;
  std::atomic<bool> ran_{false};
  Status run_result_;
};

// 1. The node agent's client: cacerts, a first enrollment with a bootstrap token, then a
// renewal authenticated by that certificate over mutual TLS (software keys).
TEST_F(EstServerTest, EnrollsWithATokenThenRenewsOverMutualTls) {
  start();
  const std::string token = add_token("node-a", {"10.0.0.5"});
  const std::string token_id = token.substr(0, ca::kTokenIdLength);
  const node::EstEndpoint endpoint{"127.0.0.1", port_, ""};

  SecureString secret(token);
  node::ClientOptions with_token;
  with_token.ca_file = ca_pem_;
  with_token.basic_user = "node-a";
  with_token.basic_password = &secret;
  node::EstClient first(endpoint, with_token);
  auto cacerts = first.cacerts();
  ASSERT_TRUE(cacerts) << cacerts.error().message;
  ASSERT_EQ(cacerts->size(), 1u);
  EXPECT_EQ(X509_cmp(cacerts->front().get(), ca_cert_.get()), 0);

  auto key1 = software_key();
  auto cert1 = first.enroll(csr_der(make_csr(key1.get(), node_subject("node-a").get()).get()),
                            /*reenroll=*/false);
  ASSERT_TRUE(cert1) << cert1.error().message;
  expect_node_certificate(cert1->get(), "node-a", key1.get());
  const std::string serial1 = serial_of(cert1->get());
  auto row1 = db_->find(kCa, serial1);
  ASSERT_TRUE(row1 && *row1);
  EXPECT_EQ((*row1)->requester, "est:node-a (bootstrap token " + token_id + ")");
  // The token is spent, and the node registered with its addresses.
  auto node = db_->node("node-a");
  ASSERT_TRUE(node) << node.error().message;
  ASSERT_TRUE(*node);
  EXPECT_EQ((*node)->addresses, std::vector<std::string>{"10.0.0.5"});
  auto tokens = db_->tokens();
  ASSERT_TRUE(tokens);
  ASSERT_EQ(tokens->size(), 1u);
  EXPECT_NE(tokens->front().used_at, 0);

  // Renewal: a new key, the subject of the current certificate, mutual TLS with it.
  auto key2 = software_key();
  node::ClientOptions with_cert;
  with_cert.ca_file = ca_pem_;
  with_cert.client_cert = cert1->get();
  with_cert.client_key = key1.get();
  node::EstClient renew(endpoint, with_cert);
  auto cert2 = renew.enroll(
      csr_der(make_csr(key2.get(), X509_get_subject_name(cert1->get())).get()), /*reenroll=*/true);
  ASSERT_TRUE(cert2) << cert2.error().message;
  expect_node_certificate(cert2->get(), "node-a", key2.get());
  const std::string serial2 = serial_of(cert2->get());
  EXPECT_NE(serial2, serial1);
  auto row2 = db_->find(kCa, serial2);
  ASSERT_TRUE(row2 && *row2);
  EXPECT_EQ((*row2)->requester, "est:node-a (client certificate " + serial1 + ")");

  // The same over cpp-httplib directly: the reply's headers.
  auto cli = client(cert1->get(), key1.get());
  auto res =
      cli->Post(kReenroll, request_body(software_key().get(), X509_get_subject_name(cert1->get())),
                est::kPkcs10Type);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->get_header_value("Content-Type"), est::kCertsOnlyType);
  EXPECT_EQ(res->get_header_value("Content-Transfer-Encoding"), "base64");

  auto audit = audit_view();
  EXPECT_EQ(audit.issued[serial1], 1);
  EXPECT_EQ(audit.issued[serial2], 1);
  EXPECT_EQ(audit.events["cert.issued"], 4);  // the TLS certificate, two renewals, the first
  EXPECT_EQ(audit.events["est.rejected"], 0);

  // The logger counts a request after its reply is written: the client may be first (more
  // so since no session tickets come before the reply).
  for (auto until = Clock::now() + 5s;
       sample(metrics_.text(), requests("simplereenroll", 200)) != 2 && Clock::now() < until;) {
    std::this_thread::sleep_for(5ms);
  }
  const std::string m = metrics_.text();
  EXPECT_EQ(sample(m, issued("kubelet-client")), 3) << m;
  EXPECT_EQ(sample(m, requests("cacerts", 200)), 1) << m;
  EXPECT_EQ(sample(m, requests("simpleenroll", 200)), 1) << m;
  EXPECT_EQ(sample(m, requests("simplereenroll", 200)), 2) << m;
  EXPECT_EQ(sample(m, "hwca_est_signing_seconds_count"), 3) << m;
}

// 2. Group commit: 16 nodes renew 10 times each at once, each over one keep-alive
// connection. Every certificate is recorded and audited once, in fewer database batches
// (and audit appends, one per batch) than certificates.
TEST_F(EstServerTest, GroupCommitsConcurrentRenewals) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 10;
  est::ServerOptions options;
  options.workers = kThreads;
  start(options);

  std::vector<EnrolledNode> nodes = enroll_nodes("worker-", kThreads);
  store_->forget();
  const size_t lines_before = audit_lines();

  std::mutex mu;
  std::vector<std::string> problems;
  std::vector<std::vector<std::string>> serials(kThreads);
  std::barrier start_line(kThreads);
  std::vector<std::thread> pool;
  const auto began = Clock::now();
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([&, t] {
      EnrolledNode& n = nodes[t];
      auto cli = client(n.cert.get(), n.key.get());
      start_line.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        auto a = answer_of(cli->Post(kReenroll, n.body, est::kPkcs10Type));
        if (a.status != 200 || a.certs.size() != 1) {
          std::lock_guard lock(mu);
          problems.push_back(n.name + " #" + std::to_string(i) + ": " +
                             (a.transport_ok
                                  ? std::to_string(a.status) + " " + a.body + a.decode_error
                                  : httplib::to_string(a.error)));
          continue;
        }
        const X509* cert = a.certs.front().get();
        if (X509_NAME_cmp(X509_get_subject_name(cert), X509_get_subject_name(n.cert.get())) != 0) {
          std::lock_guard lock(mu);
          problems.push_back(n.name + ": wrong subject " +
                             ca::dn_text(X509_get_subject_name(cert)));
        }
        serials[t].push_back(serial_of(cert));
      }
    });
  }
  for (auto& th : pool) th.join();
  const auto took = Clock::now() - began;
  ASSERT_TRUE(problems.empty()) << problems.size() << " failed, first: " << problems.front();

  std::set<std::string> all;
  for (int t = 0; t < kThreads; ++t) {
    for (const auto& s : serials[t]) {
      EXPECT_TRUE(all.insert(s).second) << "serial " << s << " handed out twice";
      auto row = db_->find(kCa, s);
      ASSERT_TRUE(row) << row.error().message;
      ASSERT_TRUE(*row) << "serial " << s << " handed out but not recorded";
      EXPECT_EQ((*row)->requester, "est:" + nodes[t].name + " (client certificate " +
                                       serial_of(nodes[t].cert.get()) + ")");
    }
  }
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));

  // Batches: every certificate in exactly one, fewer batches than certificates.
  auto batches = store_->batches();
  std::set<std::string> batched;
  size_t largest = 0;
  for (const auto& b : batches) {
    largest = std::max(largest, b.size());
    for (const auto& s : b) EXPECT_TRUE(batched.insert(s).second) << s << " recorded twice";
  }
  EXPECT_EQ(batched, all);
  EXPECT_LT(batches.size(), all.size()) << "no two renewals were committed together";
  EXPECT_GT(largest, 1u);
  std::printf("[ EstServer ] %zu certificates in %zu commits (largest %zu) in %lld ms\n",
              all.size(), batches.size(), largest, ms(took));

  // The audit chain verifies, with exactly one cert.issued per certificate and nothing
  // else since the renewals began.
  auto audit = audit_view(lines_before);
  EXPECT_EQ(audit.lines, lines_before + all.size());
  EXPECT_EQ(audit.events.size(), 1u);
  EXPECT_EQ(audit.events["cert.issued"], static_cast<int>(all.size()));
  for (const auto& s : all) EXPECT_EQ(audit.issued[s], 1) << s;

  // The logger counts a request after its reply is written: the client may be first.
  for (auto until = Clock::now() + 5s;
       sample(metrics_.text(), requests("simplereenroll", 200)) != kThreads * kPerThread &&
       Clock::now() < until;) {
    std::this_thread::sleep_for(5ms);
  }
  const std::string m = metrics_.text();
  EXPECT_EQ(sample(m, requests("simplereenroll", 200)), kThreads * kPerThread) << m;
  EXPECT_EQ(sample(m, issued("kubelet-client")), kThreads + kThreads * kPerThread) << m;
}

// 3. Refusals, each answered with its status, audited as est.rejected and counted.
TEST_F(EstServerTest, RefusesAndCountsWhatItRefuses) {
  est::ServerOptions options;
  options.max_body = 2048;
  start(options);
  auto cli = client();
  auto key = software_key();
  const size_t lines_before = audit_lines();

  // A spent token: 401, with the Basic challenge.
  const std::string token_b = add_token("node-b");
  auto ok_b =
      answer_of(cli->Post(kEnroll, basic("node-b", token_b),
                          request_body(key.get(), node_subject("node-b").get()), est::kPkcs10Type));
  ASSERT_EQ(ok_b.status, 200) << ok_b.body;
  auto reuse =
      answer_of(cli->Post(kEnroll, basic("node-b", token_b),
                          request_body(key.get(), node_subject("node-b").get()), est::kPkcs10Type));
  EXPECT_EQ(reuse.status, 401) << reuse.body;
  EXPECT_NE(reuse.body.find("already used"), std::string::npos) << reuse.body;
  EXPECT_NE(reuse.www_authenticate.find("Basic"), std::string::npos);

  // Another node's token: 401. The token's node asking for another name, or for a group
  // of its own: 403, and the token is given back each time (it then enrolls).
  const std::string token_c = add_token("node-c");
  auto other =
      answer_of(cli->Post(kEnroll, basic("node-x", token_c),
                          request_body(key.get(), node_subject("node-x").get()), est::kPkcs10Type));
  EXPECT_EQ(other.status, 401) << other.body;
  auto wrong_name =
      answer_of(cli->Post(kEnroll, basic("node-c", token_c),
                          request_body(key.get(), node_subject("node-x").get()), est::kPkcs10Type));
  EXPECT_EQ(wrong_name.status, 403) << wrong_name.body;
  EXPECT_NE(wrong_name.body.find("system:node:node-c"), std::string::npos) << wrong_name.body;
  auto wrong_group = answer_of(cli->Post(
      kEnroll, basic("node-c", token_c),
      request_body(key.get(), node_subject("node-c", "system:masters").get()), est::kPkcs10Type));
  EXPECT_EQ(wrong_group.status, 403) << wrong_group.body;
  EXPECT_NE(wrong_group.body.find("system:masters"), std::string::npos) << wrong_group.body;
  auto ok_c =
      answer_of(cli->Post(kEnroll, basic("node-c", token_c),
                          request_body(key.get(), node_subject("node-c").get()), est::kPkcs10Type));
  EXPECT_EQ(ok_c.status, 200) << ok_c.body;
  ASSERT_EQ(ok_c.certs.size(), 1u);
  expect_node_certificate(ok_c.certs.front().get(), "node-c", key.get());

  // Garbage, and the wrong content type: refused before the token is looked at.
  const std::string token_d = add_token("node-d");
  auto garbage = answer_of(
      cli->Post(kEnroll, basic("node-d", token_d), "this is *not* base64\n", est::kPkcs10Type));
  EXPECT_EQ(garbage.status, 400) << garbage.body;
  auto not_der = answer_of(cli->Post(kEnroll, basic("node-d", token_d),
                                     base64_encode("not a certificate request"), est::kPkcs10Type));
  EXPECT_EQ(not_der.status, 400) << not_der.body;
  auto wrong_type = answer_of(cli->Post(kEnroll, basic("node-d", token_d),
                                        request_body(key.get(), node_subject("node-d").get()),
                                        "application/json"));
  EXPECT_EQ(wrong_type.status, 415) << wrong_type.body;
  auto ok_d =
      answer_of(cli->Post(kEnroll, basic("node-d", token_d),
                          request_body(key.get(), node_subject("node-d").get()), est::kPkcs10Type));
  EXPECT_EQ(ok_d.status, 200) << ok_d.body;

  // Larger than max_body: 413 from the HTTP layer, the service never sees it.
  auto big = answer_of(
      cli->Post(kEnroll, basic("node-d", token_d), std::string(4096, 'A'), est::kPkcs10Type));
  EXPECT_EQ(big.status, 413) << big.body;
  EXPECT_NE(big.body.find("too large"), std::string::npos) << big.body;

  // Renewal without a client certificate: 401.
  auto anonymous = answer_of(cli->Post(
      kReenroll, request_body(key.get(), node_subject("node-b").get()), est::kPkcs10Type));
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;

  // Unknown labels and paths: 404.
  auto label =
      answer_of(cli->Post("/.well-known/est/no-such-label/simpleenroll", basic("node-d", token_d),
                          request_body(key.get(), node_subject("node-d").get()), est::kPkcs10Type));
  EXPECT_EQ(label.status, 404) << label.body;
  auto attrs = answer_of(cli->Get("/.well-known/est/no-such-label/csrattrs"));
  EXPECT_EQ(attrs.status, 404) << attrs.body;
  auto path = answer_of(cli->Get("/elsewhere"));
  EXPECT_EQ(path.status, 404) << path.body;
  // A known label answers.
  auto serving_attrs = answer_of(cli->Get("/.well-known/est/kubelet-serving/csrattrs"));
  EXPECT_EQ(serving_attrs.status, 200) << serving_attrs.body;

  // Counted, and served at /metrics (which counts itself after answering).
  auto served = answer_of(cli->Get("/metrics"));
  ASSERT_EQ(served.status, 200);
  for (const std::string& m : {served.body, metrics_.text()}) {
    SCOPED_TRACE(m);
    EXPECT_EQ(sample(m, rejected("token")), 2);  // spent, another node's
    EXPECT_EQ(sample(m, rejected("subject")), 1);
    EXPECT_EQ(sample(m, rejected("group")), 1);
    EXPECT_EQ(sample(m, rejected("malformed")), 2);
    EXPECT_EQ(sample(m, rejected("content_type")), 1);
    EXPECT_EQ(sample(m, rejected("auth")), 1);
    EXPECT_EQ(sample(m, issued("kubelet-client")), 3);
    EXPECT_EQ(sample(m, requests("simpleenroll", 200)), 3);
    EXPECT_EQ(sample(m, requests("simpleenroll", 401)), 2);
    EXPECT_EQ(sample(m, requests("simpleenroll", 403)), 2);
    EXPECT_EQ(sample(m, requests("simpleenroll", 400)), 2);
    EXPECT_EQ(sample(m, requests("simpleenroll", 415)), 1);
    EXPECT_EQ(sample(m, requests("simpleenroll", 404)), 1);
    EXPECT_EQ(sample(m, requests("simplereenroll", 401)), 1);
    EXPECT_EQ(sample(m, requests("csrattrs", 404)), 1);
    EXPECT_EQ(sample(m, requests("csrattrs", 200)), 1);
    // The 413 is answered before routing: counted, under "other".
    EXPECT_EQ(sample(m, requests("other", 413)), 1);
    EXPECT_EQ(sample(m, requests("other", 404)), 1);
  }
  // The logger counts a request after its reply is written: the client may be first.
  for (auto until = Clock::now() + 5s;
       sample(metrics_.text(), requests("metrics", 200)) != 1 && Clock::now() < until;) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(sample(metrics_.text(), requests("metrics", 200)), 1);

  // Audited: each refusal of the service once, with its reason; nothing issued but the three.
  auto audit = audit_view(lines_before);
  std::map<std::string, int> reasons;
  for (const auto& r : audit.rejected) ++reasons[r.at("reason").get<std::string>()];
  EXPECT_EQ(reasons, (std::map<std::string, int>{{"token", 2},
                                                 {"subject", 1},
                                                 {"group", 1},
                                                 {"malformed", 2},
                                                 {"content_type", 1},
                                                 {"auth", 1}}));
  EXPECT_EQ(audit.events["cert.issued"], 3);
  EXPECT_EQ(audit.events.size(), 2u);
}

// 4. stop() while eight nodes renew in a loop: run() returns, every 200 carried a whole
// certificate that is in the database, and nothing was recorded that no client received.
TEST_F(EstServerTest, StopFinishesTheRequestsInFlight) {
  constexpr int kThreads = 8;
  est::ServerOptions options;
  options.read_timeout_s = 2;
  start(options);
  struct Node : EnrolledNode {
    std::vector<std::string> serials;
    std::vector<std::string> problems;
    std::string ended_with;
  };
  std::vector<Node> nodes(kThreads);
  {
    auto enrolled = enroll_nodes("stopping-", kThreads);
    for (int t = 0; t < kThreads; ++t)
      static_cast<EnrolledNode&>(nodes[t]) = std::move(enrolled[t]);
  }
  store_->forget();

  std::atomic<bool> stopping{false};
  std::atomic<int> received{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t) {
    pool.emplace_back([&, t] {
      Node& n = nodes[t];
      auto cli = client(n.cert.get(), n.key.get());
      for (int i = 0; i < 5000; ++i) {
        auto a = answer_of(cli->Post(kReenroll, n.body, est::kPkcs10Type));
        if (!a.transport_ok) {
          n.ended_with = httplib::to_string(a.error);
          if (!stopping) n.problems.push_back("before stop(): " + n.ended_with);
          return;
        }
        if (a.status != 200) {
          n.problems.push_back(std::to_string(a.status) + " " + a.body);
          continue;
        }
        if (a.certs.size() != 1) {
          n.problems.push_back("a 200 without one whole certificate: " + a.decode_error);
          continue;
        }
        n.serials.push_back(serial_of(a.certs.front().get()));
        ++received;
      }
      n.ended_with = "never stopped";
    });
  }
  auto give_up = Clock::now() + 20s;
  while (received < 5 * kThreads && Clock::now() < give_up) std::this_thread::sleep_for(5ms);
  EXPECT_GE(received.load(), 5 * kThreads) << "the clients did not get going";
  stopping = true;
  const auto asked = Clock::now();
  server_->stop();
  while (!ran_ && Clock::now() < asked + 30s) std::this_thread::sleep_for(2ms);
  const auto stop_took = Clock::now() - asked;
  EXPECT_TRUE(ran_) << "run() did not return within 30 s of stop()";
  for (auto& th : pool) th.join();
  stop_server();
  EXPECT_TRUE(run_result_) << run_result_.error().message;
  EXPECT_LT(stop_took, std::chrono::seconds(options.read_timeout_s + 1));

  std::set<std::string> got;
  for (auto& n : nodes) {
    SCOPED_TRACE(n.name);
    EXPECT_TRUE(n.problems.empty()) << n.problems.size() << ", first: " << n.problems.front();
    EXPECT_NE(n.ended_with, "never stopped");
    for (const auto& s : n.serials) {
      EXPECT_TRUE(got.insert(s).second) << s;
      auto row = db_->find(kCa, s);
      ASSERT_TRUE(row) << row.error().message;
      EXPECT_TRUE(*row) << "serial " << s << " handed out but not recorded";
    }
  }
  std::set<std::string> recorded;
  for (const auto& b : store_->batches()) recorded.insert(b.begin(), b.end());
  EXPECT_EQ(recorded, got) << "recorded " << recorded.size() << ", received " << got.size();
  std::printf("[ EstServer ] %zu renewals, then stop(): run() returned after %lld ms\n", got.size(),
              ms(stop_took));

  auto audit = audit_view();
  for (const auto& s : got) EXPECT_EQ(audit.issued[s], 1) << s;

  // Nobody is served any more.
  auto late = client();
  late->set_connection_timeout(1, 0);
  auto res = late->Get("/healthz");
  EXPECT_FALSE(res) << "served after stop(): " << res->status;
}

// 4b. An idle keep-alive connection holds stop() up for the read timeout at most, and is
// not served again.
TEST_F(EstServerTest, StopWaitsForAnIdleKeepAliveConnectionOnlyUntilTheReadTimeout) {
  est::ServerOptions options;
  options.read_timeout_s = 1;
  start(options);
  auto idle = client();
  auto first = idle->Get("/healthz");
  ASSERT_TRUE(first) << httplib::to_string(first.error());
  ASSERT_EQ(first->status, 200);
  const auto asked = Clock::now();
  server_->stop();
  while (!ran_ && Clock::now() < asked + 10s) std::this_thread::sleep_for(2ms);
  const auto took = Clock::now() - asked;
  EXPECT_TRUE(ran_);
  EXPECT_LT(took, 2500ms);
  auto again = idle->Get("/healthz");
  EXPECT_FALSE(again) << "served after stop(): " << again->status;
  std::printf(
      "[ EstServer ] stop() with an idle keep-alive connection: run() returned after "
      "%lld ms\n",
      ms(took));
}

// 5. A client that connects and says nothing holds one worker, delays nobody, and is
// dropped after the read timeout.
TEST_F(EstServerTest, ASilentClientDelaysNobodyAndIsDroppedAfterTheReadTimeout) {
  est::ServerOptions options;
  options.read_timeout_s = 1;
  options.workers = 2;
  start(options);
  const auto connected = Clock::now();
  int silent = connect_silent(port_);
  ASSERT_GE(silent, 0) << std::strerror(errno);
  std::this_thread::sleep_for(100ms);  // a worker has taken it and waits for its handshake

  auto key = software_key();
  const std::string token = add_token("node-e");
  auto cli = client();
  const auto asked = Clock::now();
  auto a =
      answer_of(cli->Post(kEnroll, basic("node-e", token),
                          request_body(key.get(), node_subject("node-e").get()), est::kPkcs10Type));
  const auto served = Clock::now() - asked;
  EXPECT_EQ(a.status, 200) << a.body << httplib::to_string(a.error);
  EXPECT_LT(served, 900ms);
  // Served while the silent client still held its worker.
  EXPECT_FALSE(closed_at(silent, connected, Clock::now()))
      << "the silent client was dropped before " << ms(Clock::now() - connected) << " ms";

  auto dropped = closed_at(silent, connected, connected + 10s);
  ::close(silent);
  ASSERT_TRUE(dropped) << "the silent client was not dropped within 10 s";
  EXPECT_GE(*dropped, 900ms);
  EXPECT_LT(*dropped, 3s);
  std::printf(
      "[ EstServer ] enrollment beside a silent client: %lld ms; silent client dropped "
      "after %lld ms\n",
      ms(served), ms(*dropped));
}

// 5b. With every worker held by a silent client, a request waits for the read timeout to
// free one, and no longer.
TEST_F(EstServerTest, SilentClientsHoldTheWorkersOnlyUntilTheReadTimeout) {
  est::ServerOptions options;
  options.read_timeout_s = 1;
  options.workers = 2;
  start(options);
  const auto connected = Clock::now();
  int silent[2] = {connect_silent(port_), connect_silent(port_)};
  ASSERT_GE(silent[0], 0);
  ASSERT_GE(silent[1], 0);
  std::this_thread::sleep_for(200ms);

  auto cli = client();
  const auto asked = Clock::now();
  auto res = cli->Get("/.well-known/est/cacerts");
  const auto waited = Clock::now() - asked;
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_GE(waited, 500ms) << "served although both workers were held";
  EXPECT_LT(waited, 3s);
  for (int fd : silent) {
    auto dropped = closed_at(fd, connected, connected + 10s);
    ::close(fd);
    ASSERT_TRUE(dropped);
    EXPECT_LT(*dropped, 3s);
  }
  std::printf("[ EstServer ] both workers held by silent clients: served after %lld ms\n",
              ms(waited));
}

// 6. stop() from another thread right as run() starts (a SIGTERM just after the banner) is
// never lost: run() returns, however the two interleave.
TEST_F(EstServerTest, StopAsRunStartsIsNeverLost) {
  for (int i = 0; i < 20; ++i) {
    SCOPED_TRACE(i);
    bind_server();
    if (HasFatalFailure()) return;
    std::atomic<bool> returned{false};
    std::thread runner([&] {
      EXPECT_TRUE(server_->run());
      returned = true;
    });
    if (i % 2 == 1) std::this_thread::sleep_for(std::chrono::milliseconds(i));
    server_->stop();  // returns only once run() has, if run() had begun
    auto give_up = Clock::now() + 10s;
    while (!returned && Clock::now() < give_up) std::this_thread::sleep_for(5ms);
    EXPECT_TRUE(returned) << "run() still serving 10 s after stop()";
    if (!returned) std::abort();  // a thread that never ends cannot be joined
    runner.join();
    server_.reset();
    service_.reset();
  }
}

// 10. No session resumption: the server sends no TLS 1.3 session tickets (every connection
// makes a full handshake, its client certificate verified each time). A raw OpenSSL client
// that would cache any session it is given reads a whole reply and is given none.
TEST_F(EstServerTest, SendsNoSessionTickets) {
  start();
  if (HasFatalFailure()) return;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  ASSERT_TRUE(ctx);
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca_cert_.get());
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT);
  static std::atomic<int> sessions{0};
  sessions = 0;
  SSL_CTX_sess_set_new_cb(ctx.get(), [](SSL*, SSL_SESSION*) {
    ++sessions;
    return 0;  // not kept
  });
  int fd = connect_silent(port_);
  ASSERT_GE(fd, 0);
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  ASSERT_TRUE(ssl);
  SSL_set_fd(ssl.get(), fd);
  SSL_set_tlsext_host_name(ssl.get(), "localhost");
  ASSERT_EQ(SSL_connect(ssl.get()), 1) << ossl::take_errors();
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(SSL_write(ssl.get(), get.data(), static_cast<int>(get.size())),
            static_cast<int>(get.size()));
  std::string reply;
  char buf[512];
  for (int n; (n = SSL_read(ssl.get(), buf, sizeof buf)) > 0;)
    reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  EXPECT_EQ(sessions.load(), 0) << "the server sent session tickets";
}

// 9. The CA key's token goes away mid-run and comes back: the CA key is reached through
// p11-kit's client to a p11-kit server (a real remote token); killing the server is the
// outage. Meanwhile a request gets 503 with Retry-After, no certificate, nothing recorded or
// audited as issued, a counted token error, and its bootstrap token back; once the server
// is back, the same token enrolls the node and a renewal works, without restarting.
TEST_F(EstServerTest, SurvivesTheCaTokenGoingAwayAndComingBack) {
  issuer_.reset();  // the fixture's issuer holds the key through SoftHSM2's module directly
  P11KitTokenServer token_server;
  ASSERT_TRUE(token_server.ready());
  ca::KeyLoadOptions remote = key_options();
  remote.module = kClientModule;
  auto issuer = ca::Issuer::open(*home_, process_crypto(), *store_, kCa, remote);
  ASSERT_TRUE(issuer) << issuer.error().message;
  issuer_ = std::move(*issuer);
  start();
  if (HasFatalFailure()) return;
  auto cli = client();
  auto before = enroll_nodes("remote-", 1);
  ASSERT_EQ(before.size(), 1u);

  token_server.kill_all();
  const size_t batches = store_->batches().size();
  const size_t lines = audit_lines();
  auto listed = db_->list(std::nullopt, std::nullopt);
  ASSERT_TRUE(listed) << listed.error().message;
  const size_t rows = listed->size();
  const std::string token = add_token("remote-b");
  auto key = software_key();
  const std::string body = request_body(key.get(), node_subject("remote-b").get());
  for (int i = 0; i < 3; ++i) {
    auto res = cli->Post(kEnroll, basic("remote-b", token), body, est::kPkcs10Type);
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 503) << res->body;
    EXPECT_EQ(res->get_header_value("Retry-After"), "30");
    EXPECT_NE(res->body.find("hwca-it"), std::string::npos)
        << "does not name the token: " << res->body;
  }
  auto metrics = cli->Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_GE(sample(metrics->body, "hwca_est_token_errors_total"), 3);
  EXPECT_GE(sample(metrics->body, rejected("device")), 3);
  EXPECT_EQ(store_->batches().size(), batches) << "something was recorded during the outage";
  listed = db_->list(std::nullopt, std::nullopt);
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(listed->size(), rows);
  auto during = audit_view(lines);
  EXPECT_EQ(during.events["cert.issued"], 0);
  EXPECT_GE(during.events["cert.rejected"], 3);

  ASSERT_TRUE(token_server.start());
  Answer back;
  for (auto give_up = Clock::now() + 15s; Clock::now() < give_up;) {
    back = answer_of(cli->Post(kEnroll, basic("remote-b", token), body, est::kPkcs10Type));
    if (back.status != 503) break;
    std::this_thread::sleep_for(200ms);
  }
  ASSERT_EQ(back.status, 200) << back.body << httplib::to_string(back.error);
  ASSERT_EQ(back.certs.size(), 1u) << back.decode_error;
  expect_node_certificate(back.certs.front().get(), "remote-b", key.get());

  auto renewer = client(before[0].cert.get(), before[0].key.get());
  auto renewed = answer_of(renewer->Post(kReenroll, before[0].body, est::kPkcs10Type));
  ASSERT_EQ(renewed.status, 200) << renewed.body << httplib::to_string(renewed.error);
  ASSERT_EQ(renewed.certs.size(), 1u) << renewed.decode_error;
  expect_node_certificate(renewed.certs.front().get(), before[0].name, before[0].key.get());
}

}  // namespace
}  // namespace hwca::test
