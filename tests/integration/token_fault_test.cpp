// A token that goes away or stops answering. The token is served by p11-kit's server (a
// real remote PKCS#11 token over a Unix socket, backed by the test's SoftHSM2 token) and
// reached through p11-kit-client.so; killing or stopping the server is the fault.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "integration_env.hpp"
#include "tokens/call_watch.hpp"
#include "tokens/registry.hpp"

namespace hwca::test {
namespace {

constexpr const char* kClientModule = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so";

// p11-kit server in its own process group, serving the shared test token.
class TokenServer {
 public:
  TokenServer() {
    static int count = 0;
    socket_ = g_token->dir() + "/p11-" + std::to_string(++count) + ".sock";
    // A fresh connection per server: drop modules (and connections) cached by earlier tests.
    tokens::shutdown_all();
    std::string token = "pkcs11:token=" + g_token->label();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::execlp("p11-kit", "p11-kit", "server", "--provider", SoftHsmToken::module().c_str(), "-f",
               "-n", socket_.c_str(), token.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);
    for (int i = 0; i < 100 && ::access(socket_.c_str(), F_OK) != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::setenv("P11_KIT_SERVER_ADDRESS", ("unix:path=" + socket_).c_str(), 1);
  }
  ~TokenServer() {
    resume();
    kill_all();
  }
  bool ready() const { return ::access(socket_.c_str(), F_OK) == 0; }
  void stop() { ::kill(-pid_, SIGSTOP); }
  void resume() { ::kill(-pid_, SIGCONT); }
  void kill_all() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  const std::string& socket() const { return socket_; }

 private:
  pid_t pid_ = -1;
  std::string socket_;
};

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

Result<std::vector<uint8_t>> sign_once(tokens::Signer& signer) {
  std::vector<uint8_t> hash(32, 0x5a);
  tokens::SignRequest req;
  req.scheme = tokens::SigScheme::ecdsa;
  req.digest = "SHA256";
  req.hash = hash;
  return signer.sign(req);
}

TEST(TokenFault, TokenThatDisappearsMidRunGivesAClearErrorNotAHang) {
  make_key("fault-gone", tokens::KeyType::ec_p256);
  TokenServer server;
  ASSERT_TRUE(server.ready());
  auto signer = remote_signer("fault-gone");
  auto first = sign_once(*signer);
  ASSERT_TRUE(first) << first.error().message;

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

TEST(TokenFault, TokenThatStopsAnsweringTripsTheWatchdog) {
  make_key("fault-stuck", tokens::KeyType::ec_p256);
  TokenServer server;
  ASSERT_TRUE(server.ready());
  auto signer = remote_signer("fault-stuck");
  ASSERT_TRUE(sign_once(*signer));

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
  TokenServer server;
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
