#include "est/connection_queue.hpp"

namespace hwca::est {

ConnectionQueue::Admit ConnectionQueue::offer(Accepted a) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return Admit::closed;
    if (waiting_.size() >= capacity_) return Admit::queue_full;
    size_t& open = open_[a.address];
    if (open >= per_client_) {
      if (open == 0) open_.erase(a.address);
      return Admit::per_client;
    }
    ++open;
    waiting_.push_back(std::move(a));
  }
  ready_.notify_one();
  return Admit::queued;
}

std::optional<Accepted> ConnectionQueue::take() {
  std::unique_lock lock(mu_);
  ready_.wait(lock, [this] { return closed_ || !waiting_.empty(); });
  if (closed_) return std::nullopt;
  Accepted a = std::move(waiting_.front());
  waiting_.pop_front();
  return a;
}

void ConnectionQueue::done(const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = open_.find(address);
  if (it == open_.end()) return;
  if (--it->second == 0) open_.erase(it);
}

std::vector<Accepted> ConnectionQueue::close() {
  std::vector<Accepted> left;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    for (auto& a : waiting_) {
      auto it = open_.find(a.address);
      if (it != open_.end() && --it->second == 0) open_.erase(it);
      left.push_back(std::move(a));
    }
    waiting_.clear();
  }
  ready_.notify_all();
  return left;
}

}  // namespace hwca::est
