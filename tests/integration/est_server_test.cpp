// The EST server in process, over real TLS sockets on 127.0.0.1 (also run under the
// sanitizers, which the command-line scripts that start `hwca serve` are not), on the
// fixture of est_server_fixture.hpp; clients on cpp-httplib's SSLClient (keep-alive) and
// hwca-node's EstClient. The connection limits are tested in est_server_limits_test.cpp.
//
// The issuance store the issuer writes through is wrapped to count record() calls: group
// commit shows as fewer database batches than certificates.
#include <barrier>
#include <set>

#include "est/group_commit.hpp"
#include "est_server_fixture.hpp"
#include "node/est_client.hpp"
#include "p11kit_token_server.hpp"

namespace hwca::test {
namespace {

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

  // Renewal: the same key and subject as the current certificate, mutual TLS with it (a new
  // key is refused: est_renewal_test.cpp).
  node::ClientOptions with_cert;
  with_cert.ca_file = ca_pem_;
  with_cert.client_cert = cert1->get();
  with_cert.client_key = key1.get();
  node::EstClient renew(endpoint, with_cert);
  auto cert2 = renew.enroll(
      csr_der(make_csr(key1.get(), X509_get_subject_name(cert1->get())).get()), /*reenroll=*/true);
  ASSERT_TRUE(cert2) << cert2.error().message;
  expect_node_certificate(cert2->get(), "node-a", key1.get());
  const std::string serial2 = serial_of(cert2->get());
  EXPECT_NE(serial2, serial1);
  auto row2 = db_->find(kCa, serial2);
  ASSERT_TRUE(row2 && *row2);
  EXPECT_EQ((*row2)->requester, "est:node-a (client certificate " + serial1 + ")");

  // The same over cpp-httplib directly: the reply's headers.
  auto cli = client(cert1->get(), key1.get());
  auto res = cli->Post(kReenroll, request_body(key1.get(), X509_get_subject_name(cert1->get())),
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
  options.max_client_connections = kThreads;  // every node connects from 127.0.0.1
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

// 3. Refusals, each answered with its status and counted. Those of a node that
// authenticated (or claimed its name with a valid token) are audited one by one as
// est.rejected; those of requests that never authenticated are summed up in the
// est.rejected.summary line the service writes when it stops (rejection_summary.hpp).
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
    // The 413 is answered by the route, which stops reading at max_body: counted under it.
    EXPECT_EQ(sample(m, requests("simpleenroll", 413)), 1);
    EXPECT_EQ(sample(m, requests("other", 413)), -1);
    EXPECT_EQ(sample(m, requests("other", 404)), 1);
  }
  // The logger counts a request after its reply is written: the client may be first.
  for (auto until = Clock::now() + 5s;
       sample(metrics_.text(), requests("metrics", 200)) != 1 && Clock::now() < until;) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(sample(metrics_.text(), requests("metrics", 200)), 1);

  // Audited one by one: the refusals of node-c, which holds a valid token; nothing issued
  // but the three.
  auto audit = audit_view(lines_before);
  std::map<std::string, int> reasons;
  for (const auto& r : audit.rejected) ++reasons[r.at("reason").get<std::string>()];
  EXPECT_EQ(reasons, (std::map<std::string, int>{{"subject", 1}, {"group", 1}}));
  EXPECT_EQ(audit.events["cert.issued"], 3);
  EXPECT_EQ(audit.events.size(), 2u);
  // The others, in one summary when the server stops: each refusal counted once.
  stop_server();
  auto after = audit_view(lines_before);
  EXPECT_EQ(after.events["est.rejected.summary"], 1);
  EXPECT_EQ(after.lines, audit.lines + 1);
  EXPECT_EQ(summarised(lines_before),
            (std::map<std::string, uint64_t>{
                {"token", 2}, {"malformed", 2}, {"content_type", 1}, {"auth", 1}}));
}

// 4. stop() while eight nodes renew in a loop: run() returns, every 200 carried a whole
// certificate that is in the database, and nothing was recorded that no client received.
TEST_F(EstServerTest, StopFinishesTheRequestsInFlight) {
  constexpr int kThreads = 8;
  est::ServerOptions options;
  options.read_timeout_s = 2;
  options.max_client_connections = 2 * kThreads;  // every node connects from 127.0.0.1
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

// 4b. An idle keep-alive connection is closed at once by stop() (before hwca owned the
// connection loop, it held stop() up for the read timeout), and is not served again.
TEST_F(EstServerTest, StopClosesAnIdleKeepAliveConnectionAtOnce) {
  est::ServerOptions options;
  options.read_timeout_s = 10;
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
  EXPECT_LT(took, 1s);
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
// outage. Meanwhile a request gets 503 with Retry-After and a short message (the token's
// name and the cause are in the server's log, not the reply), no certificate, nothing
// recorded, no synced line per refusal (counted as device, summed up at the stop), a counted
// token error, and its bootstrap token back; once the server is back, the same token
// enrolls the node and a renewal works, without restarting.
TEST_F(EstServerTest, SurvivesTheCaTokenGoingAwayAndComingBack) {
  issuer_.reset();  // the fixture's issuer holds the key through SoftHSM2's module directly
  P11KitTokenServer token_server;
  ASSERT_TRUE(token_server.ready());
  tokens::OpenOptions remote = key_options();
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
    EXPECT_EQ(res->body, "the CA cannot issue now; retry later\n");
  }
  // The operator's log names the token, once per refusal.
  size_t naming = 0;
  for (const auto& line : log_lines()) {
    if (line.find("hwca-it") != std::string::npos &&
        line.find("(503, device)") != std::string::npos)
      ++naming;
  }
  EXPECT_EQ(naming, 3u) << "the log does not name the token";
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
  EXPECT_EQ(during.events["cert.rejected"], 0) << "refusals during the outage audited one by one";
  EXPECT_EQ(during.events["est.rejected"], 0);
  EXPECT_EQ(during.lines, lines);

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
  // The refusals of the outage are in the summary written at the stop.
  stop_server();
  EXPECT_GE(summarised(lines)["device"], 3u);
}

// A request proven by attestation (SignRequest::attestation) keeps what it was attested with
// through sign_unrecorded and the group commit: in its database row and its cert.issued
// line. One without has neither.
TEST_F(EstServerTest, AnAttestedRequestKeepsItsAttestationThroughTheGroupCommit) {
  est::GroupCommit group(*issuer_);
  auto issue = [&](const std::optional<ca::SignRequest::Attestation>& attestation) {
    auto key = software_key();
    auto csr = simple_csr(key.get(), "localhost", "DNS:localhost");
    ca::SignRequest request;
    request.csr = csr_der(csr.get());
    request.source = "an attested request";
    request.profile = "server";
    request.requester = "test:est";
    request.attestation = attestation;
    auto cert = issuer_->sign_unrecorded(request);
    EXPECT_TRUE(cert) << cert.error().message;
    if (!cert) return std::string();
    auto ok = group.commit(request, *cert);
    EXPECT_TRUE(ok) << ok.error().message;
    return cert->record.serial;
  };
  const ca::SignRequest::Attestation att{std::string(64, 'e'), "000b" + std::string(64, 'a'),
                                         "000b" + std::string(64, 'b')};
  const std::string attested = issue(att);
  std::ifstream log(audit_path_);
  std::string line, last;
  while (std::getline(log, line)) last = line;
  const std::string plain = issue(std::nullopt);
  ASSERT_FALSE(attested.empty() || plain.empty());

  auto row = db_->find(kCa, attested);
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->attest_ek_sha256, att.ek_sha256);
  EXPECT_EQ((*row)->attest_ak_name, att.ak_name);
  EXPECT_EQ((*row)->attest_key_name, att.key_name);
  auto event = nlohmann::json::parse(last);
  EXPECT_EQ(event["event"], "cert.issued");
  EXPECT_EQ(event["data"]["serial"], attested);
  EXPECT_EQ(event["data"]["ek_sha256"], att.ek_sha256);
  EXPECT_EQ(event["data"]["ak_name"], att.ak_name);
  EXPECT_EQ(event["data"]["key_name"], att.key_name);

  auto other = db_->find(kCa, plain);
  ASSERT_TRUE(other && *other);
  EXPECT_EQ((*other)->attest_ek_sha256, "");
  std::ifstream log2(audit_path_);
  while (std::getline(log2, line)) last = line;
  EXPECT_EQ(nlohmann::json::parse(last)["data"].count("ek_sha256"), 0u) << last;
}

}  // namespace
}  // namespace hwca::test
