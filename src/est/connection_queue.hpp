// The EST server's connection limits: accepted sockets wait here for a worker, in a queue
// of bounded length, and no client address has more than a set number of connections open
// (waiting or served). A connection over either limit is refused at once (its socket is the
// caller's to close), so one client address cannot take every worker, and a flood of
// connections costs a closed socket each rather than a growing queue.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "est/listener.hpp"

namespace hwca::est {

class ConnectionQueue {
 public:
  ConnectionQueue(size_t capacity, size_t per_client)
      : capacity_(capacity), per_client_(per_client) {}

  enum class Admit { queued, per_client, queue_full, closed };
  // Queue `a` for a worker, or say why not (then the caller still owns its socket).
  Admit offer(Accepted a);

  // The next connection to serve; waits for one. nullopt once close() was called.
  std::optional<Accepted> take();

  // A connection from `address` (taken before) has ended.
  void done(const std::string& address);

  // Refuse everything from now and wake every take(); the connections still waiting are
  // returned (counted as ended) for the caller to close.
  std::vector<Accepted> close();

 private:
  const size_t capacity_;
  const size_t per_client_;
  std::mutex mu_;
  std::condition_variable ready_;
  std::deque<Accepted> waiting_;
  std::map<std::string, size_t> open_;  // client address -> connections waiting or served
  bool closed_ = false;
};

}  // namespace hwca::est
