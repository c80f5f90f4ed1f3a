// Unit tests for est/challenge_store.hpp, on a clock the test moves.
#include <gtest/gtest.h>

#include <set>

#include "attest/protocol.hpp"
#include "est/challenge_store.hpp"

namespace hwca::est {
namespace {

using namespace std::chrono_literals;

struct FakeClock {
  ChallengeStore::Clock::time_point t{};
  ChallengeStore::Now now() {
    return [this] { return t; };
  }
};

Challenge for_node(const std::string& node, uint8_t secret = 1) {
  Challenge c;
  c.node = node;
  c.ek_sha256 = std::string(64, 'a');
  c.secret = attest::Bytes(32, secret);
  return c;
}

TEST(EstChallengeStore, ANonceIsRandomAndGoodOnce) {
  FakeClock clock;
  ChallengeStore store(60s, 4, clock.now());
  auto n1 = store.add(for_node("a", 7));
  auto n2 = store.add(for_node("b"));
  ASSERT_TRUE(n1 && n2);
  EXPECT_EQ(n1->size(), attest::kNonceSize);
  EXPECT_NE(*n1, *n2);
  auto c = store.take(*n1);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->node, "a");
  EXPECT_EQ(c->secret, attest::Bytes(32, 7));
  auto again = store.take(*n1);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), ChallengeStore::Miss::reused);
  auto never = store.take(attest::Bytes(attest::kNonceSize, 9));
  ASSERT_FALSE(never);
  EXPECT_EQ(never.error(), ChallengeStore::Miss::unknown);
  EXPECT_EQ(store.size(), 1u);
}

TEST(EstChallengeStore, ANonceExpiresAfterItsTime) {
  FakeClock clock;
  ChallengeStore store(60s, 4, clock.now());
  auto n = store.add(for_node("a"));
  auto m = store.add(for_node("a"));
  ASSERT_TRUE(n && m);
  clock.t += 59s;
  EXPECT_TRUE(store.take(*m));
  clock.t += 1s;
  auto late = store.take(*n);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error(), ChallengeStore::Miss::expired);
  EXPECT_EQ(store.size(), 0u);
  // Forgotten in the end, like any nonce never given.
  clock.t += 121s;
  auto forgotten = store.take(*n);
  ASSERT_FALSE(forgotten);
  EXPECT_EQ(forgotten.error(), ChallengeStore::Miss::unknown);
}

TEST(EstChallengeStore, ANodeKeepsAtMostItsShareOfChallenges) {
  FakeClock clock;
  ChallengeStore store(60s, 2, clock.now());
  auto a1 = store.add(for_node("a"));
  clock.t += 1s;
  auto b1 = store.add(for_node("b"));
  auto a2 = store.add(for_node("a"));
  auto a3 = store.add(for_node("a"));  // pushes a1 out, not b1
  ASSERT_TRUE(a1 && b1 && a2 && a3);
  EXPECT_EQ(store.size(), 3u);
  auto gone = store.take(*a1);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error(), ChallengeStore::Miss::superseded);
  EXPECT_TRUE(store.take(*a2));
  EXPECT_TRUE(store.take(*a3));
  EXPECT_TRUE(store.take(*b1));
}

}  // namespace
}  // namespace hwca::est
