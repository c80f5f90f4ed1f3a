// The EST server's counters, served at /metrics in Prometheus' text format (version 0.0.4):
//
//   hwca_est_requests_total{endpoint,code}   every HTTP request answered
//   hwca_est_issued_total{label}             certificates handed out
//   hwca_est_rejected_total{reason}          enrollments refused, by reason
//   hwca_est_token_errors_total              the CA's key token failed while signing
//   hwca_est_audit_errors_total              audit lines (of refusals, or their summary)
//                                            that could not be written
//   hwca_est_signing_seconds                 histogram: sign, record and audit one request
//   hwca_database_seconds                    histogram: one call into the issuance database
//                                            (metered_database.hpp)
//   hwca_database_errors_total               calls into it that failed for the database's
//                                            sake (unreachable, down, full), not a refusal
//   hwca_est_connections_dropped_total{reason}  connections closed by a limit: per_client
//                                            (the client address had its most open),
//                                            queue_full (no room to wait for a worker),
//                                            deadline (handshake or request too slow)
//
// Counting is lock-free (atomics) except for the first use of a new label set.
#pragma once

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace hwca::est {

class Metrics {
 public:
  void request(const std::string& endpoint, int code);
  void issued(const std::string& label);
  void rejected(const std::string& reason);
  void connection_dropped(const std::string& reason);
  void token_error() { token_errors_.fetch_add(1, std::memory_order_relaxed); }
  void audit_error() { audit_errors_.fetch_add(1, std::memory_order_relaxed); }
  void signing_seconds(double seconds) { signing_.observe(seconds); }
  void database_call(double seconds, bool failed) {
    database_.observe(seconds);
    if (failed) database_errors_.fetch_add(1, std::memory_order_relaxed);
  }

  std::string text() const;  // the exposition

  // Bucket upper bounds of the histograms, in seconds.
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

 private:
  using Counter = std::atomic<uint64_t>;
  struct Histogram {
    std::array<Counter, kBuckets.size()> buckets{};  // not cumulative; summed when shown
    Counter count{0};
    std::atomic<uint64_t> sum_micros{0};
    void observe(double seconds);
    void write(std::string& out, const char* name, const char* help) const;
  };
  Counter& counter(std::map<std::string, std::unique_ptr<Counter>>& family, const std::string& key);

  mutable std::mutex mu_;  // guards the maps' shapes, not the counts
  std::map<std::string, std::unique_ptr<Counter>> requests_;  // key: endpoint "\n" code
  std::map<std::string, std::unique_ptr<Counter>> issued_;
  std::map<std::string, std::unique_ptr<Counter>> rejected_;
  std::map<std::string, std::unique_ptr<Counter>> dropped_;
  Counter token_errors_{0};
  Counter audit_errors_{0};
  Counter database_errors_{0};
  Histogram signing_;
  Histogram database_;
};

}  // namespace hwca::est
