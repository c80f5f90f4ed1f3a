// Refusals of unauthenticated EST requests, summed up for the audit log: an anonymous client
// must not make the log grow one synced line per request it sends. Each refusal is counted
// here (and exactly in the metrics, by the caller); at most one summary is due per interval
// (a minute by default), carrying the count per reason, the interval, and a few of the
// client addresses seen (bounded text). The caller writes it as one "est.rejected.summary"
// line, and takes what is left when it stops.
//
// The clock is injected for the tests; a clock that goes back waits a whole interval again.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace hwca::est {

class RejectionSummary {
 public:
  using Clock = std::chrono::system_clock;
  using Now = std::function<Clock::time_point()>;

  struct Summary {
    std::map<std::string, uint64_t> counts;  // by reason
    uint64_t total = 0;
    Clock::time_point from, to;
    std::vector<std::string> peers;  // client addresses (no port), the first few seen
    uint64_t unlisted = 0;           // refusals from addresses past the first few

    nlohmann::json to_json() const;  // the audit line's data
  };

  explicit RejectionSummary(std::chrono::seconds interval = std::chrono::minutes(1),
                            Now now = Clock::now, size_t max_peers = 4);

  // Count one refusal of `reason` from `peer` ("10.0.0.5:51234"). Returns the summary to
  // write when one is due (the interval since the last passed), and starts a new one.
  std::optional<Summary> add(const std::string& reason, const std::string& peer);
  // The summary, if one is due and anything was counted.
  std::optional<Summary> due();
  // Whatever was counted and not yet summed up (on stopping), due or not.
  std::optional<Summary> take();

 private:
  std::optional<Summary> take_locked(Clock::time_point now);
  bool due_locked(Clock::time_point now);

  const std::chrono::seconds interval_;
  const Now now_;
  const size_t max_peers_;
  std::mutex mu_;
  Summary current_;
  Clock::time_point last_;  // when the last summary was taken (or the start)
};

}  // namespace hwca::est
