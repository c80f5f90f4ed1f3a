// The summary of unauthenticated refusals (src/est/rejection_summary.hpp), on an injected
// clock: at most one summary per interval, every refusal counted in exactly one, a few
// bounded client addresses.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "est/rejection_summary.hpp"

namespace hwca::est {
namespace {

using namespace std::chrono_literals;
using Clock = RejectionSummary::Clock;

struct FakeClock {
  Clock::time_point t = Clock::time_point(std::chrono::seconds(1'800'000'000));
  RejectionSummary::Now now() {
    return [this] { return t; };
  }
};

TEST(RejectionSummary, AtMostOneSummaryPerIntervalAndEveryRefusalInOne) {
  FakeClock clock;
  RejectionSummary s(60s, clock.now());
  uint64_t summed = 0;
  int summaries = 0;
  // 10 minutes of 500 refusals a second... in steps of 100 ms: 50 per step.
  for (int step = 0; step < 6000; ++step) {
    for (int i = 0; i < 50; ++i) {
      if (auto due = s.add(i % 3 == 0 ? "auth" : "content_type", "127.0.0.1:40000")) {
        ++summaries;
        summed += due->total;
        EXPECT_GE(due->to - due->from, 59s);
      }
    }
    clock.t += 100ms;
  }
  EXPECT_LE(summaries, 10);
  EXPECT_GE(summaries, 9);
  auto left = s.take();
  ASSERT_TRUE(left);
  summed += left->total;
  EXPECT_EQ(summed, 6000u * 50u);
  EXPECT_FALSE(s.take()) << "nothing left after take()";
}

TEST(RejectionSummary, CountsByReasonWithTheIntervalAndAFewPeers) {
  FakeClock clock;
  RejectionSummary s(60s, clock.now(), /*max_peers=*/2);
  const auto start = clock.t;
  EXPECT_FALSE(s.add("auth", "10.0.0.1:1000"));
  EXPECT_FALSE(s.add("auth", "10.0.0.1:1001"));  // the same client, another connection
  EXPECT_FALSE(s.add("token", "10.0.0.2:1000"));
  EXPECT_FALSE(s.add("malformed", "10.0.0.3:1000"));
  EXPECT_FALSE(s.add("malformed", "10.0.0.4:1000"));
  EXPECT_FALSE(s.due()) << "due before the interval passed";
  clock.t += 61s;
  auto due = s.due();
  ASSERT_TRUE(due);
  EXPECT_EQ(due->total, 5u);
  EXPECT_EQ(due->counts,
            (std::map<std::string, uint64_t>{{"auth", 2}, {"token", 1}, {"malformed", 2}}));
  EXPECT_EQ(due->peers, (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(due->unlisted, 2u);
  EXPECT_EQ(due->from, start);
  EXPECT_EQ(due->to, start + 61s);
  const auto j = due->to_json();
  EXPECT_EQ(j.at("reasons").at("auth"), 2);
  EXPECT_EQ(j.at("total"), 5);
  EXPECT_EQ(j.at("from"), "2027-01-15T08:00:00Z");
  EXPECT_EQ(j.at("to"), "2027-01-15T08:01:01Z");
  EXPECT_FALSE(s.due()) << "nothing counted since";
  // The next refusal, right after a summary, waits for the next interval.
  EXPECT_FALSE(s.add("auth", "10.0.0.1:1000"));
  clock.t += 59s;
  EXPECT_FALSE(s.due());
  clock.t += 1s;
  EXPECT_TRUE(s.add("auth", "10.0.0.1:1000"));
}

TEST(RejectionSummary, PeersAreBoundedText) {
  FakeClock clock;
  RejectionSummary s(60s, clock.now());
  s.add("auth", std::string(5000, 'a') + "\n\xff:1");
  auto left = s.take();
  ASSERT_TRUE(left);
  ASSERT_EQ(left->peers.size(), 1u);
  EXPECT_LE(left->peers[0].size(), 64u + 24u);
  for (unsigned char c : left->peers[0]) EXPECT_TRUE(c >= 0x20 && c < 0x7f);
  EXPECT_NO_THROW((void)left->to_json().dump());
}

TEST(RejectionSummary, AClockThatGoesBackWaitsAWholeInterval) {
  FakeClock clock;
  RejectionSummary s(60s, clock.now());
  s.add("auth", "10.0.0.1:1");
  clock.t -= 3600s;
  EXPECT_FALSE(s.add("auth", "10.0.0.1:1"));
  clock.t += 59s;
  EXPECT_FALSE(s.due());
  clock.t += 1s;
  auto due = s.due();
  ASSERT_TRUE(due);
  EXPECT_EQ(due->total, 2u);
}

TEST(RejectionSummary, CountsExactlyFromManyThreads) {
  FakeClock clock;
  RejectionSummary s(60s, clock.now());
  std::vector<std::thread> pool;
  for (int t = 0; t < 8; ++t) {
    pool.emplace_back([&s] {
      for (int i = 0; i < 10000; ++i) s.add("auth", "10.0.0.1:1");
    });
  }
  for (auto& th : pool) th.join();
  auto left = s.take();
  ASSERT_TRUE(left);
  EXPECT_EQ(left->total, 80000u);
  EXPECT_EQ(left->counts.at("auth"), 80000u);
}

}  // namespace
}  // namespace hwca::est
