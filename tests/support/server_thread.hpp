// A cpp-httplib server of a test, served on a thread of its own: bound to a free port of
// 127.0.0.1 before the thread starts (a connection waits in the backlog), stopped and joined
// when dropped.
#pragma once

#include <httplib.h>

#include <atomic>
#include <stdexcept>
#include <thread>

namespace hwca::test {

class ServerThread {
 public:
  // `server` (its routes set) must outlive this object.
  explicit ServerThread(httplib::Server& server) : server_(server) {
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind a port on 127.0.0.1");
    thread_ = std::thread([this] {
      server_.listen_after_bind();
      ended_ = true;
    });
  }
  ~ServerThread() {
    // stop() does nothing before listen_after_bind() has begun, which would then never
    // return: wait until it runs (or has already ended by itself).
    while (!server_.is_running() && !ended_) std::this_thread::yield();
    server_.stop();
    thread_.join();
  }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  int port() const { return port_; }

 private:
  httplib::Server& server_;
  int port_ = 0;
  std::atomic<bool> ended_{false};
  std::thread thread_;
};

}  // namespace hwca::test
