#include "est/listener.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>

#include "common/text.hpp"

namespace hwca::est {

void address_text(const sockaddr* addr, socklen_t len, std::string& host, int& port) {
  char h[NI_MAXHOST] = "";
  char p[NI_MAXSERV] = "";
  if (::getnameinfo(addr, len, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    host.clear();
    port = 0;
    return;
  }
  host = h;
  port = std::atoi(p);
}

void drain_before_close(int fd) {
  if (::shutdown(fd, SHUT_WR) != 0) return;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  char buf[16384];
  for (;;) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        until - std::chrono::steady_clock::now())
                        .count();
    pollfd p{fd, POLLIN, 0};
    if (ms <= 0 || ::poll(&p, 1, static_cast<int>(ms)) <= 0) return;
    if (::recv(fd, buf, sizeof buf, 0) <= 0) return;
  }
}

Listener::Listener() : wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Listener::~Listener() {
  if (fd_ >= 0) ::close(fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status Listener::bind(const std::string& host, int port) {
  const std::string where = host + ":" + std::to_string(port);
  if (wake_fd_ < 0) return fail(ErrorKind::internal, "eventfd: " + error_text(errno));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return fail(ErrorKind::io, "cannot listen on " + printable(where) + ": " + gai_strerror(rc));
  }
  int last_errno = 0;
  for (addrinfo* ai = found; ai != nullptr && fd_ < 0; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    const int one = 1;
    // SO_REUSEADDR only: never SO_REUSEPORT, which would let a second server bind too.
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      last_errno = errno;
      ::close(fd);
      continue;
    }
    fd_ = fd;
  }
  ::freeaddrinfo(found);
  if (fd_ < 0) {
    std::string why = error_text(last_errno);
    if (last_errno == EADDRINUSE) why += " (another server, perhaps another hwca serve, has it)";
    return fail(ErrorKind::io, "cannot listen on " + printable(where) + ": " + why);
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  std::string ignored;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
    address_text(reinterpret_cast<sockaddr*>(&bound), len, ignored, port_);
  }
  if (port_ <= 0) return fail(ErrorKind::io, "cannot tell the port bound for " + printable(where));
  return {};
}

Status Listener::run(const std::function<void(Accepted)>& admit) {
  if (fd_ < 0) return fail(ErrorKind::internal, "the listener is not bound");
  auto accepted = accept_until_stopped(admit);
  // New connections are refused from now on, rather than left in the backlog.
  ::close(fd_);
  fd_ = -1;
  return accepted;
}

Status Listener::accept_until_stopped(const std::function<void(Accepted)>& admit) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {fd_, POLLIN, 0}};
  for (;;) {
    int rc = ::poll(fds, 2, -1);
    if (rc < 0 && errno != EINTR) return fail(ErrorKind::io, "poll: " + error_text(errno));
    if ((fds[0].revents & POLLIN) != 0) return {};
    if (rc <= 0) continue;
    // Take every connection waiting, then poll again.
    for (;;) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      int fd =
          ::accept4(fd_, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors or memory: the connection stays queued in the kernel; wait a
          // little (or for stop()) instead of spinning on it.
          pollfd wake{wake_fd_, POLLIN, 0};
          ::poll(&wake, 1, 50);
          break;
        }
        return fail(ErrorKind::io,
                    "the EST server stopped accepting connections: " + error_text(errno));
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      Accepted a;
      a.fd = fd;
      address_text(reinterpret_cast<sockaddr*>(&addr), len, a.address, a.port);
      admit(std::move(a));
    }
  }
}

void Listener::stop() {
  if (wake_fd_ < 0) return;
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

}  // namespace hwca::est
