// A real remote PKCS#11 token for fault tests: p11-kit's server, in its own process group,
// serves the shared SoftHSM2 test token over a Unix socket, and hwca reaches it through
// p11-kit-client.so (P11_KIT_SERVER_ADDRESS). Killing the group is the token going away;
// start() again on the same socket is the token coming back; SIGSTOP is a token that stops
// answering.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "integration_env.hpp"
#include "tokens/registry.hpp"

namespace hwca::test {

inline constexpr const char* kClientModule = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so";

class P11KitTokenServer {
 public:
  P11KitTokenServer() {
    static int count = 0;
    socket_ = g_token->dir() + "/p11-" + std::to_string(++count) + ".sock";
    // A fresh connection per server: drop modules (and connections) cached by earlier tests.
    tokens::shutdown_all();
    start();
    ::setenv("P11_KIT_SERVER_ADDRESS", ("unix:path=" + socket_).c_str(), 1);
  }
  ~P11KitTokenServer() {
    resume();
    kill_all();
  }
  P11KitTokenServer(const P11KitTokenServer&) = delete;
  P11KitTokenServer& operator=(const P11KitTokenServer&) = delete;

  // Serve the token on the socket (again, after kill_all); true once the socket is there.
  bool start() {
    ::unlink(socket_.c_str());
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
    for (int i = 0; i < 100 && !ready(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return ready();
  }
  bool ready() const { return ::access(socket_.c_str(), F_OK) == 0; }
  void stop() {
    if (pid_ > 0) ::kill(-pid_, SIGSTOP);
  }
  void resume() {
    if (pid_ > 0) ::kill(-pid_, SIGCONT);
  }
  // The server and every connection it forked (p11-kit-remote) go away at once.
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

}  // namespace hwca::test
