// Running a check in a forked child, and making root obey file modes there. A test that
// needs a read-only file cannot rely on chmod when it runs as root (root ignores modes), so
// it drops its capabilities, which it can only do in a child it throws away.
#pragma once

#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

namespace hwca::test {

// Run `body` in a forked child; returns what it reported ("" for success). The child ends
// with _exit: it runs no destructor of the parent's objects.
inline std::string in_child(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(fds[0]);
    std::string out = body();
    ssize_t ignored = ::write(fds[1], out.data(), out.size());
    (void)ignored;
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, n);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) out += " (child died)";
  return out;
}

// Wait for every child in `pids`; how many did not exit with status 0.
inline int failed_children(const std::vector<pid_t>& pids) {
  int failed = 0;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  return failed;
}

// Root ignores file modes; root without capabilities (CAP_DAC_OVERRIDE) obeys them like
// anyone else. Call in a forked child only. False if capset() is refused.
inline bool obey_file_modes() {
  if (::geteuid() != 0) return true;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  return ::syscall(SYS_capset, &header, data) == 0;
}

}  // namespace hwca::test
