// A token that goes away, comes back, or stops answering. The token is served by p11-kit's
// server (a real remote PKCS#11 token over a Unix socket, backed by the test's SoftHSM2
// token) and reached through p11-kit-client.so; killing or stopping the server is the fault.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <thread>

#include "integration_env.hpp"
#include "p11kit_token_server.hpp"
#include "support/signer_probe.hpp"
#include "tokens/call_watch.hpp"
#include "tokens/registry.hpp"

namespace hwca::test {
namespace {

std::shared_ptr<tokens::Signer> remote_signer(const std::string& label) {
  tokens::OpenOptions options = open_options();
  options.module = kClientModule;
  std::string uri = g_token->key_uri(label);
  auto store = tokens::open_store(uri, options);
  if (!store) throw std::runtime_error(store.error().message);
  auto signer = (*store)->create_signer(uri);
  if (!signer) throw std::runtime_error(signer.error().message);
  return *signer;
}

// An ec-p256 key made in the shared token, then a p11-kit server for the token (its SoftHSM2
// reads the token when it starts: the key comes first) and a signer for the key through
// p11-kit's client, which has signed once.
struct RemoteKey {
  explicit RemoteKey(const std::string& label) : uri(make_key(label, tokens::KeyType::ec_p256)) {
    if (!server.ready()) throw std::runtime_error("the p11-kit server did not start");
    signer = remote_signer(label);
    auto first = sign_once(*signer);
    if (!first) throw std::runtime_error("the first signature failed: " + first.error().message);
  }
  std::string uri;
  P11KitTokenServer server;
  std::shared_ptr<tokens::Signer> signer;  // dropped before the server stops
};

TEST(TokenFault, TokenThatDisappearsMidRunGivesAClearErrorNotAHang) {
  RemoteKey key("fault-gone");
  auto& [uri, server, signer] = key;

  server.kill_all();
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {  // and it stays a clean failure
    auto again = sign_once(*signer);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().kind, ErrorKind::device) << again.error().message;
    EXPECT_NE(again.error().message.find("token '" + g_token->label() + "'"), std::string::npos)
        << again.error().message;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// The signature over the fixed hash of sign_once verifies with the signer's public key.
bool verifies(tokens::Signer& signer, const std::vector<uint8_t>& sig) {
  std::vector<uint8_t> hash(32, 0x5a);
  ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(signer.public_key(), nullptr));
  return ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
         EVP_PKEY_verify(ctx.get(), sig.data(), sig.size(), hash.data(), hash.size()) == 1;
}

// Sign until it works or `within` passes; the last result.
Result<std::vector<uint8_t>> sign_until_ok(tokens::Signer& signer, std::chrono::seconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    auto r = sign_once(signer);
    if (r || std::chrono::steady_clock::now() >= deadline) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

TEST(TokenFault, SignerWorksAgainOnceTheTokenComesBack) {
  RemoteKey key("fault-back");
  auto& [uri, server, signer] = key;

  server.kill_all();
  // While it is away every attempt fails at once, as a device error (the reconnection it
  // tries is one a second at most).
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    auto away = sign_once(*signer);
    ASSERT_FALSE(away);
    EXPECT_EQ(away.error().kind, ErrorKind::device) << away.error().message;
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));

  // Back on the same socket, as a new process: new sessions, no login, maybe new handles.
  ASSERT_TRUE(server.start());
  auto back = sign_until_ok(*signer, std::chrono::seconds(10));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(verifies(*signer, *back));
  // And it stays usable: the sessions and the login are the new server's.
  for (int i = 0; i < 3; ++i) {
    auto again = sign_once(*signer);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_TRUE(verifies(*signer, *again));
  }
}

// The first reconnection finds the PIN file gone (moved away during the outage): it fails
// with an error that says so, nothing is tried with a wrong PIN, and once the file is back
// a later attempt logs in and signs.
TEST(TokenFault, AReconnectionWhoseLoginFailsIsTriedAgain) {
  RemoteKey key("fault-pin");
  auto& [uri, server, signer] = key;

  server.kill_all();
  const std::string pin_file = g_token->pin_file();
  const std::string moved = pin_file + ".away";
  ASSERT_EQ(std::rename(pin_file.c_str(), moved.c_str()), 0);
  ASSERT_TRUE(server.start());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the last attempt's second
  auto no_pin = sign_once(*signer);
  ASSERT_EQ(std::rename(moved.c_str(), pin_file.c_str()), 0);
  ASSERT_FALSE(no_pin) << "signed without the PIN file";
  EXPECT_NE(no_pin.error().message.find("reconnecting failed"), std::string::npos)
      << no_pin.error().message;
  EXPECT_NE(no_pin.error().message.find(pin_file), std::string::npos) << no_pin.error().message;

  auto back = sign_until_ok(*signer, std::chrono::seconds(10));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(verifies(*signer, *back));
}

TEST(TokenFault, ThreadsSigningThroughAnOutageAllRecover) {
  RemoteKey key("fault-threads");
  auto& [uri, server, signer] = key;

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, bad{0};
  std::mutex first_bad_mu;
  std::string first_bad;
  auto note_bad = [&](const std::string& what) {
    ++bad;
    std::lock_guard lock(first_bad_mu);
    if (first_bad.empty()) first_bad = what;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      while (!stop) {
        auto r = sign_once(*signer);
        if (!r) {
          ++failures;
          if (r.error().kind != ErrorKind::device) note_bad(r.error().message);
        } else if (!verifies(*signer, *r)) {
          note_bad("a signature that does not verify");
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server.kill_all();
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  bool restarted = server.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_TRUE(restarted);
  EXPECT_GT(failures.load(), 0) << "the outage was not seen";
  EXPECT_EQ(bad.load(), 0) << "a failure other than a device error, or a bad signature: "
                           << first_bad;
  // After the threads' storm, one more signature works at once.
  auto after = sign_once(*signer);
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_TRUE(verifies(*signer, *after));
}

TEST(TokenFault, TokenThatStopsAnsweringTripsTheWatchdog) {
  RemoteKey key("fault-stuck");
  auto& [uri, server, signer] = key;

  std::promise<std::string> tripped;
  std::atomic<bool> once{false};
  tokens::set_call_timeout(std::chrono::milliseconds(1500));
  tokens::set_stuck_handler([&](const std::string& message) {
    if (!once.exchange(true)) tripped.set_value(message);
  });
  server.stop();
  std::thread caller([&] { (void)sign_once(*signer); });
  auto fired = tripped.get_future();
  bool in_time = fired.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  server.resume();  // let the blocked call return so the thread can be joined
  caller.join();
  tokens::set_stuck_handler(nullptr);
  tokens::set_call_timeout(std::chrono::seconds(30));
  ASSERT_TRUE(in_time) << "the watchdog did not notice a stopped token";
  std::string message = fired.get();
  EXPECT_NE(message.find("did not answer"), std::string::npos) << message;
  EXPECT_NE(message.find("C_Sign"), std::string::npos) << message;
}

TEST(TokenFault, CommandAgainstAStoppedTokenExitsWithOneLineAndCode5) {
  make_key("fault-cli", tokens::KeyType::ec_p256);
  P11KitTokenServer server;
  ASSERT_TRUE(server.ready());
  server.stop();
  std::string err = g_token->dir() + "/cli.err";
  std::string cmd = std::string("HWCA_TOKEN_TIMEOUT=1.5 ") + HWCA_BIN + " --module " +
                    kClientModule + " --pin-source " + g_token->pin_source() + " key show --key '" +
                    g_token->key_uri("fault-cli") + "' >/dev/null 2>" + err;
  auto start = std::chrono::steady_clock::now();
  int rc = run(cmd);
  auto elapsed = std::chrono::steady_clock::now() - start;
  server.resume();
  EXPECT_EQ(rc, 5);
  EXPECT_LT(elapsed, std::chrono::seconds(10));
  std::ifstream in(err);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1) << s;
  EXPECT_EQ(s.rfind("hwca: ", 0), 0u) << s;
  EXPECT_NE(s.find("did not answer"), std::string::npos) << s;
}

}  // namespace
}  // namespace hwca::test
