// The EST server's HTTP and TLS side: routes under /.well-known/est/[label/], plus /healthz
// (200 "ok", or 503 when the issuance database cannot be read) and /metrics, over TLS 1.2 or 1.3
// (tls_context.hpp has the settings).
//
// cpp-httplib (Debian's libcpp-httplib, 0.11) parses requests, routes them and writes the
// replies; hwca owns the rest, because the library's own accept loop bounds nothing but each
// single read: its listening socket (listener.hpp), the queue of accepted connections and the
// per-client cap (connection_queue.hpp), a fixed pool of worker threads (each serves one
// connection at a time), and the TLS stream with its deadlines (tls_stream.hpp).
//
// Limits: at most max_client_connections open connections per client address, and queue
// connections waiting for a worker (more are closed at once); the TLS handshake within
// read_timeout_s; an idle keep-alive connection closed after read_timeout_s; from a
// request's first byte, every read within read_timeout_s and the whole request within
// request_timeout_s, in 64 KiB + 2 x max_body bytes on the wire at most; request bodies of
// more than max_body get 413 as soon as they pass it (chunked or not), and the connection is
// closed after. stop() stops accepting and closes idle connections at once; requests in
// flight finish and their replies are sent.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/ossl.hpp"
#include "common/result.hpp"
#include "est/connection_queue.hpp"
#include "est/est_service.hpp"
#include "est/listener.hpp"
#include "est/metrics.hpp"
#include "est/tls_context.hpp"

namespace hwca::est {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8443;                    // 0: any free port (port() tells which)
  size_t workers = 64;                // connections served at once
  size_t max_client_connections = 8;  // open at once from one client address
  size_t queue = 0;  // accepted connections waiting for a worker; 0: as many as workers
  // The TLS handshake, each read of a request, and how long an idle keep-alive connection
  // may wait for its next request: a connection holds a worker while it waits, so a client
  // that says nothing holds one for this long and no longer.
  int read_timeout_s = 5;
  // A whole request, headers and body, from its first byte.
  int request_timeout_s = 10;
  int write_timeout_s = 5;         // each write of a reply
  size_t keep_alive_max = 100000;  // requests on one connection
  size_t max_body = 96 * 1024;     // a 64 KiB request in base64, with line breaks
};

class EstServer {
 public:
  EstServer(EstService& service, Metrics& metrics, ServerOptions options);
  ~EstServer();
  EstServer(const EstServer&) = delete;
  EstServer& operator=(const EstServer&) = delete;

  // Bind the listening socket (ErrorKind::io when the address is taken, by another hwca
  // serve or anything else); nothing is accepted before run().
  Status listen();
  // Set up TLS, and bind the listening socket if listen() has not.
  Status bind(const TlsIdentity& identity);
  int port() const { return port_; }
  // Serve until stop(); then wait for the requests in flight, and have the service audit
  // the summary of the refusals it has not audited yet.
  Status run();
  // One request answered from memory, without TLS or a socket (fuzzing, tests): `raw` is the
  // request as it would come on a connection, parsed, routed and answered as there (from
  // 127.0.0.1, with no client certificate); the reply as it would be written. Not with run().
  std::string answer(std::string_view raw);
  // From any thread (a signal-watching one): stop accepting and let run() return. Safe
  // before run() (which then returns at once) and while it starts; once run() has begun,
  // returns only after it has.
  void stop();

 private:
  class Http;
  void make_http();
  void routes();
  void admit(Accepted a);
  void work();
  void serve(const Accepted& a);

  EstService& service_;
  Metrics& metrics_;
  ServerOptions options_;
  std::unique_ptr<Http> http_;
  ossl::Ptr<SSL_CTX> tls_;
  Listener listener_;
  std::unique_ptr<ConnectionQueue> queue_;
  int port_ = 0;
  std::atomic<bool> started_{false};
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable finished_cv_;
  bool finished_ = false;  // guarded by mu_
};

}  // namespace hwca::est
