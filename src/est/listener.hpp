// The EST server's listening socket and its accept loop (hwca's own, not cpp-httplib's).
//
// The socket is bound exclusively: SO_REUSEADDR (a restart may bind beside connections in
// TIME_WAIT) but never SO_REUSEPORT, so a second server on the same address fails to start
// instead of sharing the connections with the first. It listens with the kernel's largest
// backlog (SOMAXCONN) and is nonblocking; run() polls it together with a wake descriptor
// that stop() makes readable for good, which the workers poll too (an idle connection
// or a handshake in progress ends at once on stop()).
#pragma once

#include <sys/socket.h>

#include <functional>
#include <string>

#include "common/result.hpp"

namespace hwca::est {

// One accepted connection: its socket (nonblocking, owned by whoever holds this) and the
// client's numeric address and port.
struct Accepted {
  int fd = -1;
  std::string address;
  int port = 0;
};

// The numeric host and port of a socket address ("127.0.0.1", "::1").
void address_text(const sockaddr* addr, socklen_t len, std::string& host, int& port);

// Before closing a connection whose request was not read whole (a 413): end our side, then
// read and drop what the client still sends, for a second at most, so that closing with
// unread bytes (which sends a reset) does not destroy the reply before the client reads it
// (curl, busy sending a body, reads the reply only now and then).
void drain_before_close(int fd);

class Listener {
 public:
  Listener();
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Bind host:port (port 0: any free one) and listen. ErrorKind::io when the address is
  // taken or cannot be bound.
  Status bind(const std::string& host, int port);
  int port() const { return port_; }

  // Accept until stop(), handing each connection to `admit` (which then owns its socket),
  // then close the listening socket. Returns once stopped; an error only when accepting
  // fails for good.
  Status run(const std::function<void(Accepted)>& admit);

  // From any thread, before or during run(): run() returns, the wake descriptor turns
  // readable.
  void stop();

  // Readable once stop() was called (never drained).
  int wake_fd() const { return wake_fd_; }

 private:
  Status accept_until_stopped(const std::function<void(Accepted)>& admit);

  int fd_ = -1;
  int wake_fd_ = -1;
  int port_ = 0;
};

}  // namespace hwca::est
