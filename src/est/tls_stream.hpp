// One TLS connection of the EST server, as the Stream cpp-httplib parses requests from and
// writes replies to, with hwca's time and size limits (the socket is nonblocking; every wait
// is a poll with a timeout):
//   - the TLS handshake must finish by a deadline;
//   - between requests, the connection may stay idle for a while (keep-alive);
//   - from a request's first byte, every read must come within the silence limit and the
//     whole request (headers and body) by the request's deadline; its bytes on the wire are
//     capped as well (a backstop: the routes stop reading their bodies sooner);
//   - every write must go out within the write timeout.
// Reads and writes that miss a limit fail (-1), as a closed connection would.
#pragma once

#include <httplib.h>
#include <openssl/ssl.h>

#include <chrono>
#include <string>

#include "est/listener.hpp"

namespace hwca::est {

using Clock = std::chrono::steady_clock;

class TlsStream : public httplib::Stream {
 public:
  // `ssl` is set up to accept on `peer.fd`; both stay the caller's. `wake_fd` turns readable
  // when the server stops: handshakes and idle waits end then.
  TlsStream(SSL* ssl, const Accepted& peer, int wake_fd, std::chrono::milliseconds silence,
            std::chrono::milliseconds write_timeout);
  ~TlsStream() override;

  // SSL_accept, finished by `deadline`; false if it failed, timed out or the server stopped.
  bool handshake(Clock::time_point deadline);
  // Wait up to `idle` for the start of a next request; false if none came, the peer closed
  // or the server stopped.
  bool wait_for_request(std::chrono::milliseconds idle);
  // A request starts: it must be read by `deadline`, in `max_bytes` at most.
  void begin_request(Clock::time_point deadline, size_t max_bytes);

  // Why the connection went wrong, if it did.
  bool timed_out() const { return timed_out_; }    // a deadline or the silence limit passed
  bool over_limit() const { return over_limit_; }  // the request was longer than max_bytes
  bool fatal() const { return fatal_; }            // TLS failed; no close_notify then
  // Close after the reply now being made (its body was not read whole).
  void close_after_reply() { close_after_reply_ = true; }
  bool must_close() const { return close_after_reply_ || timed_out_ || over_limit_ || fatal_; }

  // The stream serving `ssl` (a route's req.ssl), or nullptr.
  static TlsStream* of(const SSL* ssl);

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  // Poll for `events` (and for the wake descriptor if `stoppable`) until `until`: true if
  // the socket is ready (or in error: the next TLS call says which).
  bool wait(short events, Clock::time_point until, bool stoppable) const;
  // After an SSL_* call returned `rc` <= 0: wait for what it wants until `until`; false to
  // give up (failure, timeout, stop).
  bool retry(int rc, Clock::time_point until, bool stoppable);

  SSL* ssl_;
  int fd_;
  int wake_fd_;
  std::string address_;
  int port_;
  std::chrono::milliseconds silence_;
  std::chrono::milliseconds write_timeout_;
  Clock::time_point request_deadline_ = Clock::time_point::max();
  size_t read_left_ = 0;
  bool timed_out_ = false;
  bool over_limit_ = false;
  bool fatal_ = false;
  bool close_after_reply_ = false;
};

}  // namespace hwca::est
