// The EST server's HTTP and TLS side, on cpp-httplib (Debian's libcpp-httplib, 0.11):
// routes under /.well-known/est/[label/], plus /healthz and /metrics, over TLS 1.2 or 1.3.
//
// A client certificate is asked for but not required (a first enrollment authenticates
// with a bootstrap token instead); when one is sent, TLS verifies it against the serving CA
// alone (a certificate it does not accept fails the handshake). Limits: request bodies (413
// beyond), a read timeout that also bounds the TLS handshake and the wait between
// keep-alive requests (a client that sends nothing is dropped), and a fixed pool of worker
// threads (each serves one connection at a time). stop() closes the listening socket;
// requests in flight finish and their replies are sent.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/ossl.hpp"
#include "common/result.hpp"
#include "est/est_service.hpp"
#include "est/metrics.hpp"

namespace httplib {
class SSLServer;
}

namespace hwca::est {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8443;      // 0: any free port (port() tells which)
  size_t workers = 64;  // connections served at once
  // Per read, the TLS handshake included, and how long an idle keep-alive connection may
  // wait for its next request: a connection holds a worker while it waits, so a client
  // that says nothing holds one for this long and no longer.
  int read_timeout_s = 5;
  int write_timeout_s = 5;
  size_t keep_alive_max = 100000;  // requests on one connection
  size_t max_body = 96 * 1024;     // a 64 KiB request in base64, with line breaks
};

struct TlsIdentity {
  ossl::Ptr<X509> cert;
  std::vector<ossl::Ptr<X509>> chain;  // sent after `cert`
  ossl::Ptr<EVP_PKEY> key;             // may live in a token, through the provider
  ossl::Ptr<X509> client_ca;           // the one CA client certificates must chain to
};

class EstServer {
 public:
  EstServer(EstService& service, Metrics& metrics, ServerOptions options);
  ~EstServer();
  EstServer(const EstServer&) = delete;
  EstServer& operator=(const EstServer&) = delete;

  // Set up TLS and bind the listening socket.
  Status bind(const TlsIdentity& identity);
  int port() const { return port_; }
  // Serve until stop(); then wait for the requests in flight.
  Status run();
  // From any thread (a signal-watching one): stop accepting and let run() return. Safe
  // before run() (which then returns at once) and while it starts; once run() has begun,
  // returns only after it has.
  void stop();

 private:
  void routes();

  EstService& service_;
  Metrics& metrics_;
  ServerOptions options_;
  std::unique_ptr<httplib::SSLServer> http_;
  int port_ = 0;
  // cpp-httplib's stop() does nothing until its accept loop runs: stop() keeps asking
  // until run() has returned.
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> finished_{false};
};

}  // namespace hwca::est
