// The EST server's connection limits (src/est/connection_queue.cpp): the per-address cap and
// the bounded queue of connections waiting for a worker. No sockets: the descriptors are
// just numbers here.
#include <gtest/gtest.h>

#include <thread>

#include "est/connection_queue.hpp"

namespace hwca::est {
namespace {

Accepted from(const std::string& address, int fd) { return Accepted{fd, address, 40000 + fd}; }

TEST(EstConnectionQueue, CapsTheConnectionsOfOneAddressUntilOneEnds) {
  ConnectionQueue q(/*capacity=*/16, /*per_client=*/2);
  EXPECT_EQ(q.offer(from("127.0.0.2", 1)), ConnectionQueue::Admit::queued);
  EXPECT_EQ(q.offer(from("127.0.0.2", 2)), ConnectionQueue::Admit::queued);
  EXPECT_EQ(q.offer(from("127.0.0.2", 3)), ConnectionQueue::Admit::per_client);
  // Another address is not held up by the first.
  EXPECT_EQ(q.offer(from("127.0.0.1", 4)), ConnectionQueue::Admit::queued);
  // Taken by a worker, a connection still counts until it ends.
  auto a = q.take();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->fd, 1);
  EXPECT_EQ(q.offer(from("127.0.0.2", 5)), ConnectionQueue::Admit::per_client);
  q.done(a->address);
  EXPECT_EQ(q.offer(from("127.0.0.2", 6)), ConnectionQueue::Admit::queued);
}

TEST(EstConnectionQueue, RefusesBeyondItsCapacity) {
  ConnectionQueue q(/*capacity=*/2, /*per_client=*/8);
  EXPECT_EQ(q.offer(from("10.0.0.1", 1)), ConnectionQueue::Admit::queued);
  EXPECT_EQ(q.offer(from("10.0.0.2", 2)), ConnectionQueue::Admit::queued);
  EXPECT_EQ(q.offer(from("10.0.0.3", 3)), ConnectionQueue::Admit::queue_full);
  ASSERT_TRUE(q.take());
  EXPECT_EQ(q.offer(from("10.0.0.3", 4)), ConnectionQueue::Admit::queued);
}

TEST(EstConnectionQueue, CloseHandsBackTheWaitingConnections) {
  ConnectionQueue q(/*capacity=*/4, /*per_client=*/1);
  EXPECT_EQ(q.offer(from("10.0.0.1", 1)), ConnectionQueue::Admit::queued);
  EXPECT_EQ(q.offer(from("10.0.0.2", 2)), ConnectionQueue::Admit::queued);
  auto left = q.close();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].fd, 1);
  EXPECT_EQ(left[1].fd, 2);
  EXPECT_FALSE(q.take().has_value());
  EXPECT_EQ(q.offer(from("10.0.0.3", 3)), ConnectionQueue::Admit::closed);
}

TEST(EstConnectionQueue, CloseWakesAWaitingWorker) {
  ConnectionQueue q(/*capacity=*/4, /*per_client=*/1);
  std::optional<Accepted> got = Accepted{};
  std::thread worker([&] { got = q.take(); });  // waits: nothing is queued
  q.close();
  worker.join();
  EXPECT_FALSE(got.has_value());
}

}  // namespace
}  // namespace hwca::est
