#include "support/swtpm.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "support/log_tail.hpp"

namespace hwca::test {

namespace {

using Env = std::vector<std::pair<std::string, std::string>>;

// Fork and exec argv with `env` added, stdout and stderr appended to `log`. In the child
// only async-signal-safe work happens before exec (the test program may have threads).
pid_t spawn(const std::vector<std::string>& argv, const Env& env, const std::string& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The added variables replace the inherited ones (getenv takes the first of two).
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    bool replaced = false;
    for (const auto& added : env) {
      replaced = replaced || entry.substr(0, entry.find('=')) == added.first;
    }
    if (!replaced) env_strings.emplace_back(entry);
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid != 0) return pid;
  // A swtpm must not outlive a test program that dies (a ctest timeout kills it).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);
  int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || in < 0) ::_exit(127);
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(out, 2);
  ::execvpe(args[0], args.data(), envp.data());
  ::_exit(127);
}

int run_logged(const std::vector<std::string>& argv, const Env& env, const std::string& log) {
  pid_t pid = spawn(argv, env, log);
  if (pid < 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

// Nothing is bound to 127.0.0.1:port right now (a probe: someone may take it next).
bool port_free(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// The inode of the socket listening on 127.0.0.1:port (or 0.0.0.0:port), 0 if none.
unsigned long listening_inode(int port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // header
  char want_lo[32], want_any[32];
  std::snprintf(want_lo, sizeof want_lo, "0100007F:%04X", port);
  std::snprintf(want_any, sizeof want_any, "00000000:%04X", port);
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout;
    unsigned long inode = 0;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
        timeout >> inode;
    if (state == "0A" && (local == want_lo || local == want_any)) return inode;
  }
  return 0;
}

// Process `pid` holds the socket with this inode: the listener is really its own.
bool holds_socket(pid_t pid, unsigned long inode) {
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  std::string want = "socket:[" + std::to_string(inode) + "]";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    char target[64];
    ssize_t n = ::readlinkat(::dirfd(d), e->d_name, target, sizeof target - 1);
    if (n > 0 && std::string(target, n) == want) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

// Send TPM2_GetRandom(8) on the TPM port: true when the TPM answers `expected`
// (TPM_RC_SUCCESS when started, TPM_RC_INITIALIZE when it waits for TPM2_Startup).
bool answers(int port, unsigned expected, std::string& why) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const unsigned char command[] = {0x80, 0x01, 0x00, 0x00, 0x00, 0x0c,
                                   0x00, 0x00, 0x01, 0x7b, 0x00, 0x08};
  unsigned char reply[64];
  size_t got = 0;
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::send(fd, command, sizeof command, MSG_NOSIGNAL) == sizeof command;
  // tag u16, size u32, responseCode u32, then (on success) TPM2B_DIGEST: read `size`
  // bytes, not more (an error answer is the 10-byte header alone).
  size_t want = 10;
  while (ok && got < want) {
    ssize_t n = ::recv(fd, reply + got, want - got, 0);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
    if (got == 10) {
      size_t size = (reply[2] << 24) | (reply[3] << 16) | (reply[4] << 8) | reply[5];
      want = std::min(std::max<size_t>(size, 10), sizeof reply);
    }
  }
  ::close(fd);
  if (got < 10) {
    why = "no answer to TPM2_GetRandom on port " + std::to_string(port);
    return false;
  }
  unsigned rc = (reply[6] << 24) | (reply[7] << 16) | (reply[8] << 8) | reply[9];
  if (rc != expected) {
    char text[64];
    std::snprintf(text, sizeof text, "TPM2_GetRandom answered 0x%x, not 0x%x", rc, expected);
    why = text;
    return false;
  }
  return true;
}

}  // namespace

Swtpm::Swtpm(SwtpmOptions options) : options_(std::move(options)) {
  std::string tmpl = options_.parent + "/hwca-swtpm-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp in " + options_.parent + " failed");
  }
  dir_ = tmpl;
  std::string config = dir_ + "/config", state = dir_ + "/state", log = dir_ + "/setup.log";
  ::mkdir(config.c_str(), 0700);
  ::mkdir(state.c_str(), 0700);
  // swtpm_setup's configuration (and its local CA for the EK certificates) in our folder,
  // not in /etc or the user's home; its temporary files too.
  Env env = {{"XDG_CONFIG_HOME", config}, {"TMPDIR", dir_}};
  bool set_up = run_logged({"swtpm_setup", "--tpm2", "--create-config-files", "overwrite,root"},
                           env, log) == 0 &&
                run_logged({"swtpm_setup", "--tpm2", "--tpmstate", state, "--create-ek-cert",
                            "--lock-nvram", "--config", config + "/swtpm_setup.conf"},
                           env, log) == 0;
  if (!set_up) {
    std::string tail = log_tail(log);
    run_logged({"rm", "-rf", dir_}, {}, "/dev/null");
    throw std::runtime_error("swtpm_setup failed: " + tail);
  }
  try {
    start();
  } catch (...) {
    run_logged({"rm", "-rf", dir_}, {}, "/dev/null");
    throw;
  }
}

Swtpm::~Swtpm() {
  stop();
  run_logged({"rm", "-rf", dir_}, {}, "/dev/null");
}

std::string Swtpm::tcti() const { return "swtpm:host=127.0.0.1,port=" + std::to_string(port_); }

std::string Swtpm::tools_env() const { return "TPM2TOOLS_TCTI='" + tcti() + "' "; }

// Where swtpm_localca keeps its CA under XDG_CONFIG_HOME (swtpm-localca.conf's statedir).
std::string Swtpm::ek_root_pem() const {
  return dir_ + "/config/var/lib/swtpm-localca/swtpm-localca-rootca-cert.pem";
}

std::string Swtpm::ek_intermediate_pem() const {
  return dir_ + "/config/var/lib/swtpm-localca/issuercert.pem";
}

void Swtpm::start() {
  if (running()) return;
  static std::mt19937 rng(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  // Below the kernel's ephemeral range (32768-60999): outgoing connections and their
  // TIME-WAIT leftovers take ports there.
  std::uniform_int_distribution<int> pick(10000, 32000);
  std::string why = "no free port pair";
  for (int attempt = 0; attempt < 20; ++attempt) {
    int port = pick(rng);
    if (attempt == 0 && options_.first_port != 0) {
      port = options_.first_port;
    } else if (!port_free(port) || !port_free(port + 1)) {
      continue;
    }
    // Another program may take a port between the probe and swtpm's bind (swtpm then
    // exits): try_start sees that and we pick another pair.
    if (try_start(port, why)) return;
  }
  throw std::runtime_error("swtpm did not start: " + why);
}

void Swtpm::start_on_same_port() {
  if (running()) return;
  const int port = port_;
  std::string why;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!try_start(port, why, /*probe=*/false)) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("swtpm did not start again on port " + std::to_string(port) + ": " +
                               why);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool Swtpm::try_start(int port, std::string& why, bool probe) {
  std::string log = dir_ + "/swtpm.log";
  std::string server = "type=tcp,port=" + std::to_string(port) + ",bindaddr=127.0.0.1";
  std::string ctrl = "type=tcp,port=" + std::to_string(port + 1) + ",bindaddr=127.0.0.1";
  std::string flags = options_.started ? "not-need-init,startup-clear" : "not-need-init";
  pid_ = spawn({"swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + dir_ + "/state", "--server",
                server, "--ctrl", ctrl, "--flags", flags},
               {}, log);
  if (pid_ < 0) {
    why = "fork failed";
    return false;
  }
  port_ = port;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // e.g. "Address already in use"
      pid_ = -1;
      why = "swtpm exited on ports " + std::to_string(port) + "/" + std::to_string(port + 1) +
            ": " + log_tail(log);
      return false;
    }
    // Both listeners must be this process's: a client that reached another program's
    // port would silently talk to another TPM.
    unsigned long data = listening_inode(port), control = listening_inode(port + 1);
    if (data != 0 && control != 0 && holds_socket(pid_, data) && holds_socket(pid_, control)) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      stop();
      why = "swtpm did not listen on its ports within 10 s: " + log_tail(log);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  constexpr unsigned kRcSuccess = 0, kRcInitialize = 0x100;
  if (probe && !answers(port, options_.started ? kRcSuccess : kRcInitialize, why)) {
    stop();
    return false;
  }
  return true;
}

void Swtpm::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

}  // namespace hwca::test
