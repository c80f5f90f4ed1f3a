#include "est/rejection_summary.hpp"

#include <algorithm>
#include <ctime>

#include "common/text.hpp"

namespace hwca::est {
namespace {

std::string utc(RejectionSummary::Clock::time_point t) {
  std::time_t s = RejectionSummary::Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// "10.0.0.5:51234" -> "10.0.0.5", "::1:443" -> "::1": the client, not its connection.
std::string address_of(const std::string& peer) {
  auto colon = peer.rfind(':');
  return bounded(colon == std::string::npos ? peer : peer.substr(0, colon), 64);
}

}  // namespace

nlohmann::json RejectionSummary::Summary::to_json() const {
  nlohmann::json reasons = nlohmann::json::object();
  for (const auto& [reason, n] : counts) reasons[bounded(reason, 32)] = n;
  return {{"reasons", reasons}, {"total", total}, {"from", utc(from)},
          {"to", utc(to)},      {"peers", peers}, {"unlisted", unlisted}};
}

RejectionSummary::RejectionSummary(std::chrono::seconds interval, Now now, size_t max_peers)
    : interval_(interval), now_(std::move(now)), max_peers_(max_peers) {
  last_ = now_();
  current_.from = last_;
}

bool RejectionSummary::due_locked(Clock::time_point now) {
  if (now < last_) {  // the clock went back: a whole interval from now
    last_ = now;
    return false;
  }
  return current_.total > 0 && now - last_ >= interval_;
}

std::optional<RejectionSummary::Summary> RejectionSummary::take_locked(Clock::time_point now) {
  if (current_.total == 0) return std::nullopt;
  Summary out = std::move(current_);
  out.to = now;
  current_ = Summary{};
  current_.from = now;
  last_ = now;
  return out;
}

std::optional<RejectionSummary::Summary> RejectionSummary::add(const std::string& reason,
                                                               const std::string& peer) {
  const auto now = now_();
  std::lock_guard lock(mu_);
  if (current_.total == 0) current_.from = now;
  ++current_.counts[reason];
  ++current_.total;
  const std::string address = address_of(peer);
  auto& peers = current_.peers;
  if (std::find(peers.begin(), peers.end(), address) == peers.end()) {
    if (peers.size() < max_peers_) {
      peers.push_back(address);
    } else {
      ++current_.unlisted;
    }
  }
  if (!due_locked(now)) return std::nullopt;
  return take_locked(now);
}

std::optional<RejectionSummary::Summary> RejectionSummary::due() {
  const auto now = now_();
  std::lock_guard lock(mu_);
  if (!due_locked(now)) return std::nullopt;
  return take_locked(now);
}

std::optional<RejectionSummary::Summary> RejectionSummary::take() {
  const auto now = now_();
  std::lock_guard lock(mu_);
  return take_locked(now);
}

}  // namespace hwca::est
