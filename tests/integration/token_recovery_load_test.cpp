// hwca's EST server in process in its default set-up (the CA key and the server's TLS key
// in the same token), with the token reached through hwca_fault_pkcs11, under 8 clients:
// 4 making TLS handshakes (a new connection each), 4 renewing over mutual TLS (CA
// signatures). The token fails every signature for two seconds, again and again; each time
// both come back within two seconds of the fault's end, without a restart (items 13 and 14
// of issue 14). A failure while the fault lasts is a 503, never a 500.
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "est_server_fixture.hpp"
#include "recovery_env.hpp"

namespace hwca::test {
namespace {

constexpr const char* kCacerts = "/.well-known/est/cacerts";

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

class TokenRecoveryEst : public EstServerTest {
 protected:
  void SetUp() override {
    g_faults->clear();
    std::this_thread::sleep_for(1100ms);  // past the last reconnection of the test before
    EstServerTest::SetUp();
  }
  void TearDown() override {
    g_faults->clear();
    EstServerTest::TearDown();
  }

  // As start(), with the server's TLS key in the token beside the CA key (hwca serve's
  // default) instead of a software key.
  void start_with_token_tls(est::ServerOptions options) {
    static const std::string tls_uri = make_key("est-recovery-tls", tokens::KeyType::ec_p256);
    auto key = process_crypto().load_private_key(tls_uri, key_options());
    ASSERT_TRUE(key) << key.error().message;
    start(options, std::move(*key));
  }
};

// Item 14 of issue 14, token side: the login is lost and logging in again fails during the
// reconnection. The enrollment gets 503 (reason device) with Retry-After, not 500 "no
// private key ... in token" (reason internal); once the token logs in again, it enrolls.
TEST_F(TokenRecoveryEst, EnrollmentDuringAFailedReloginIs503Device) {
  start();
  auto cli = client();
  auto key = software_key();
  first_certificate(*cli, "rec-n1", key.get());

  g_faults->set({logout(), fail("C_Login", "CKR_GENERAL_ERROR")});
  const std::string token = add_token("rec-n2");
  const std::string body = request_body(key.get(), node_subject("rec-n2").get());
  auto res = cli->Post(kEnroll, basic("rec-n2", token), body, est::kPkcs10Type);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 503) << res->body;
  EXPECT_FALSE(res->get_header_value("Retry-After").empty());
  EXPECT_EQ(res->body.find("no private key"), std::string::npos) << res->body;
  const std::string m = metrics_.text();
  EXPECT_EQ(sample(m, rejected("device")), 1) << m;
  EXPECT_LE(sample(m, rejected("internal")), 0) << m;

  g_faults->clear();
  Answer a;
  for (auto until = Clock::now() + 2s; Clock::now() < until; std::this_thread::sleep_for(50ms)) {
    a = answer_of(cli->Post(kEnroll, basic("rec-n2", token), body, est::kPkcs10Type));
    if (a.status == 200) break;
  }
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(a.certs.size(), 1u);
  expect_node_certificate(a.certs.front().get(), "rec-n2", key.get());
}

// What the clients saw: per kind (0: TLS handshakes, 1: CA signatures) the successes, and
// since mark_ns the completion time of the first success of a request started after it.
struct Seen {
  std::atomic<int64_t> mark_ns{INT64_MAX};
  std::atomic<int64_t> first_ok_ns[2] = {0, 0};
  std::atomic<long> ok[2] = {0, 0}, failed[2] = {0, 0};
  std::atomic<long> status_500{0};
  std::mutex mu;
  std::string odd;  // the first reply that is neither 200 nor 503

  void note(int kind, int64_t started, bool success) {
    (success ? ok : failed)[kind].fetch_add(1);
    if (!success || started < mark_ns.load()) return;
    int64_t zero = 0;
    first_ok_ns[kind].compare_exchange_strong(zero, now_ns());
  }
  void note_odd(int status, const std::string& body) {
    if (status == 500) status_500.fetch_add(1);
    std::lock_guard lock(mu);
    if (odd.empty()) odd = std::to_string(status) + " " + body;
  }
};

class TokenRecoveryLoad : public TokenRecoveryEst {};

int rounds_wanted() {
  const char* env = std::getenv("HWCA_RECOVERY_ROUNDS");  // to measure the old code
  return env != nullptr && std::atoi(env) > 0 ? std::atoi(env) : 20;
}

TEST_F(TokenRecoveryLoad, CaSignaturesAndTlsHandshakesRecoverAfterEveryTwoSecondFault) {
  est::ServerOptions options;
  options.max_client_connections = 64;  // 8 clients share 127.0.0.1
  ASSERT_NO_FATAL_FAILURE(start_with_token_tls(options));
  auto nodes = enroll_nodes("rec-load-", 4);

  Seen seen;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {  // TLS handshakes: a new connection each
    clients.emplace_back([&] {
      while (!stop) {
        const int64_t started = now_ns();
        auto cli = client();
        cli->set_keep_alive(false);
        auto res = cli->Get(kCacerts);
        seen.note(0, started, res && res->status == 200);
        if (res && res->status != 200) seen.note_odd(res->status, res->body);
        if (!res) std::this_thread::sleep_for(5ms);
      }
    });
  }
  for (int c = 0; c < 4; ++c) {  // CA signatures: renewals over mutual TLS (keep-alive)
    clients.emplace_back([&, c] {
      const EnrolledNode& n = nodes[static_cast<size_t>(c)];
      auto cli = client(n.cert.get(), n.key.get());
      while (!stop) {
        const int64_t started = now_ns();
        auto a = answer_of(cli->Post(kReenroll, n.body, est::kPkcs10Type));
        seen.note(1, started, a.status == 200 && a.certs.size() == 1);
        if (a.transport_ok && a.status != 200 && a.status != 503) seen.note_odd(a.status, a.body);
        if (a.status != 200) std::this_thread::sleep_for(5ms);
      }
    });
  }

  const int rounds = rounds_wanted();
  int recovered = 0;
  std::vector<long long> recovery_ms;
  std::string first_stuck;
  for (int r = 0; r < rounds; ++r) {
    SCOPED_TRACE("round " + std::to_string(r + 1));
    const long fails_before[2] = {seen.failed[0].load(), seen.failed[1].load()};
    // Every signature fails; every third round the real module also loses its login for
    // the whole fault, and every third closes all its sessions at the start.
    std::vector<FaultRule> rules{fail("C_Sign", "CKR_DEVICE_ERROR").lasting(2000ms)};
    if (r % 3 == 1) rules.push_back(logout().lasting(2000ms));
    if (r % 3 == 2) rules.push_back(close_sessions());
    const auto fault_end = Clock::now() + 2000ms;
    g_faults->set(rules);
    std::this_thread::sleep_until(fault_end);
    seen.first_ok_ns[0] = 0;
    seen.first_ok_ns[1] = 0;
    seen.mark_ns = now_ns();
    const auto deadline = fault_end + 2000ms;
    while (Clock::now() < deadline && (seen.first_ok_ns[0] == 0 || seen.first_ok_ns[1] == 0)) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_GT(seen.failed[0].load(), fails_before[0]) << "no TLS handshake met the fault";
    EXPECT_GT(seen.failed[1].load(), fails_before[1]) << "no CA signature met the fault";
    const int64_t end_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(fault_end.time_since_epoch()).count();
    const int64_t tls = seen.first_ok_ns[0], sig = seen.first_ok_ns[1];
    if (tls == 0 || sig == 0) {
      first_stuck = "round " + std::to_string(r + 1) + ": " +
                    (tls == 0 ? "no TLS handshake" : "no CA signature") +
                    " within 2 s of the fault's end";
      break;  // a server that does not recover stays so: later rounds prove nothing more
    }
    ++recovered;
    recovery_ms.push_back((std::max(tls, sig) - end_ns) / 1000000);
  }
  stop = true;
  for (auto& t : clients) t.join();

  std::sort(recovery_ms.begin(), recovery_ms.end());
  std::cout << "recovered " << recovered << " of " << rounds << " rounds; recovery ms (sorted):";
  for (auto v : recovery_ms) std::cout << " " << v;
  std::cout << "\nhandshakes ok " << seen.ok[0] << " failed " << seen.failed[0]
            << "; CA signatures ok " << seen.ok[1] << " failed " << seen.failed[1] << "\n";
  EXPECT_EQ(recovered, rounds) << first_stuck;
  EXPECT_EQ(seen.status_500.load(), 0) << "a 500 during the faults: " << seen.odd;
  EXPECT_TRUE(seen.odd.empty()) << "a reply neither 200 nor 503: " << seen.odd;
  const std::string m = metrics_.text();
  EXPECT_LE(sample(m, rejected("internal")), 0) << m;
  EXPECT_GT(sample(m, rejected("device")), 0) << m;
}

}  // namespace
}  // namespace hwca::test
