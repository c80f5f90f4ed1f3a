// The EST server's /metrics exposition (src/est/metrics.cpp).
#include <gtest/gtest.h>

#include <sstream>
#include <thread>
#include <vector>

#include "est/metrics.hpp"

namespace hwca::est {
namespace {

// The value of the sample line that starts with `series ` (nullopt if absent).
std::optional<std::string> sample(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return line.substr(series.size() + 1);
  }
  return std::nullopt;
}

TEST(EstMetrics, CountsRequestsByEndpointAndCode) {
  Metrics m;
  m.request("simpleenroll", 200);
  m.request("simpleenroll", 200);
  m.request("simpleenroll", 401);
  const std::string t = m.text();
  EXPECT_EQ(sample(t, R"(hwca_est_requests_total{endpoint="simpleenroll",code="200"})"), "2");
  EXPECT_EQ(sample(t, R"(hwca_est_requests_total{endpoint="simpleenroll",code="401"})"), "1");
  EXPECT_FALSE(sample(t, R"(hwca_est_requests_total{endpoint="cacerts",code="200"})"));
  EXPECT_NE(t.find("# TYPE hwca_est_requests_total counter\n"), std::string::npos);
}

TEST(EstMetrics, CountsDroppedConnectionsByReason) {
  Metrics m;
  m.connection_dropped("per_client");
  m.connection_dropped("per_client");
  m.connection_dropped("deadline");
  const std::string t = m.text();
  EXPECT_EQ(sample(t, R"(hwca_est_connections_dropped_total{reason="per_client"})"), "2");
  EXPECT_EQ(sample(t, R"(hwca_est_connections_dropped_total{reason="deadline"})"), "1");
  EXPECT_FALSE(sample(t, R"(hwca_est_connections_dropped_total{reason="queue_full"})"));
  EXPECT_NE(t.find("# TYPE hwca_est_connections_dropped_total counter\n"), std::string::npos);
}

TEST(EstMetrics, HistogramBucketsAreCumulative) {
  Metrics m;
  m.signing_seconds(0.0004);  // first bucket
  m.signing_seconds(0.003);   // 0.005
  m.signing_seconds(0.003);
  m.signing_seconds(10.0);  // beyond the last bound: +Inf only
  const std::string t = m.text();
  EXPECT_EQ(sample(t, R"(hwca_est_signing_seconds_bucket{le="0.0005"})"), "1");
  EXPECT_EQ(sample(t, R"(hwca_est_signing_seconds_bucket{le="0.0025"})"), "1");
  EXPECT_EQ(sample(t, R"(hwca_est_signing_seconds_bucket{le="0.005"})"), "3");
  EXPECT_EQ(sample(t, R"(hwca_est_signing_seconds_bucket{le="2.5"})"), "3");
  EXPECT_EQ(sample(t, R"(hwca_est_signing_seconds_bucket{le="+Inf"})"), "4");
  EXPECT_EQ(sample(t, "hwca_est_signing_seconds_count"), "4");
  EXPECT_EQ(sample(t, "hwca_est_signing_seconds_sum"), "10.006400");
}

TEST(EstMetrics, EscapesLabelValues) {
  Metrics m;
  m.rejected("a\"b\\c\nd");
  EXPECT_EQ(sample(m.text(), R"(hwca_est_rejected_total{reason="a\"b\\c\nd"})"), "1");
}

TEST(EstMetrics, CountsFromManyThreads) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&m, i] {
      for (int j = 0; j < 1000; ++j) {
        m.issued(i % 2 == 0 ? "kubelet-client" : "kubelet-serving");
        m.token_error();
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string t = m.text();
  EXPECT_EQ(sample(t, R"(hwca_est_issued_total{label="kubelet-client"})"), "4000");
  EXPECT_EQ(sample(t, R"(hwca_est_issued_total{label="kubelet-serving"})"), "4000");
  EXPECT_EQ(sample(t, "hwca_est_token_errors_total"), "8000");
}

}  // namespace
}  // namespace hwca::est
