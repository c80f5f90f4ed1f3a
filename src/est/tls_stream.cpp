#include "est/tls_stream.hpp"

#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace hwca::est {

TlsStream::TlsStream(SSL* ssl, const Accepted& peer, int wake_fd, std::chrono::milliseconds silence,
                     std::chrono::milliseconds write_timeout)
    : ssl_(ssl),
      fd_(peer.fd),
      wake_fd_(wake_fd),
      address_(peer.address),
      port_(peer.port),
      silence_(silence),
      write_timeout_(write_timeout) {
  SSL_set_app_data(ssl_, this);
}

TlsStream::~TlsStream() { SSL_set_app_data(ssl_, nullptr); }

TlsStream* TlsStream::of(const SSL* ssl) {
  return ssl != nullptr ? static_cast<TlsStream*>(SSL_get_app_data(ssl)) : nullptr;
}

bool TlsStream::wait(short events, Clock::time_point until, bool stoppable) const {
  pollfd fds[2] = {{fd_, events, 0}, {wake_fd_, POLLIN, 0}};
  const nfds_t n = stoppable && wake_fd_ >= 0 ? 2 : 1;
  for (;;) {
    const auto now = Clock::now();
    if (now >= until) return false;
    // Rounded up, so that a wait never ends just short of its time and spins.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
    int rc = ::poll(fds, n, static_cast<int>(std::min<long long>(left, INT_MAX)));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return false;
    if (n == 2 && (fds[1].revents & POLLIN) != 0) return false;
    if (fds[0].revents != 0) return true;
  }
}

bool TlsStream::retry(int rc, Clock::time_point until, bool stoppable) {
  const int err = SSL_get_error(ssl_, rc);
  short events = 0;
  if (err == SSL_ERROR_WANT_READ) events = POLLIN;
  if (err == SSL_ERROR_WANT_WRITE) events = POLLOUT;
  if (events == 0) {
    // SSL_ERROR_SYSCALL and SSL_ERROR_SSL are fatal: no more TLS on this connection.
    if (err != SSL_ERROR_ZERO_RETURN) fatal_ = true;
    ERR_clear_error();
    return false;
  }
  if (wait(events, until, stoppable)) return true;
  if (Clock::now() >= until) timed_out_ = true;
  return false;
}

bool TlsStream::handshake(Clock::time_point deadline) {
  for (;;) {
    ERR_clear_error();
    const int rc = SSL_accept(ssl_);
    if (rc == 1) return true;
    if (!retry(rc, deadline, /*stoppable=*/true)) return false;
  }
}

bool TlsStream::wait_for_request(std::chrono::milliseconds idle) {
  if (SSL_has_pending(ssl_) == 1) return true;
  return wait(POLLIN, Clock::now() + idle, /*stoppable=*/true);
}

void TlsStream::begin_request(Clock::time_point deadline, size_t max_bytes) {
  request_deadline_ = deadline;
  read_left_ = max_bytes;
}

bool TlsStream::is_readable() const {
  return SSL_has_pending(ssl_) == 1 ||
         wait(POLLIN, std::min(request_deadline_, Clock::now() + silence_), false);
}

bool TlsStream::is_writable() const { return wait(POLLOUT, Clock::now() + write_timeout_, false); }

ssize_t TlsStream::read(char* ptr, size_t size) {
  if (timed_out_ || fatal_ || over_limit_) return -1;
  if (read_left_ == 0) {
    over_limit_ = true;
    return -1;
  }
  const int want = static_cast<int>(std::min({size, read_left_, static_cast<size_t>(INT_MAX)}));
  for (;;) {
    ERR_clear_error();
    const int n = SSL_read(ssl_, ptr, want);
    if (n > 0) {
      read_left_ -= static_cast<size_t>(n);
      return n;
    }
    if (SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN) return 0;
    // Each wait ends at the silence limit or the request's deadline, whichever is first.
    if (!retry(n, std::min(request_deadline_, Clock::now() + silence_), false)) return -1;
  }
}

ssize_t TlsStream::write(const char* ptr, size_t size) {
  if (fatal_) return -1;
  const int len = static_cast<int>(std::min(size, static_cast<size_t>(INT_MAX)));
  const auto until = Clock::now() + write_timeout_;
  for (;;) {
    ERR_clear_error();
    const int n = SSL_write(ssl_, ptr, len);
    if (n > 0) return n;
    if (!retry(n, until, false)) return -1;
  }
}

void TlsStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  ip = address_;
  port = port_;
}

void TlsStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ip.clear();
    port = 0;
    return;
  }
  address_text(reinterpret_cast<sockaddr*>(&addr), len, ip, port);
}

}  // namespace hwca::est
