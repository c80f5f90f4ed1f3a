#include "est/challenge_store.hpp"

#include <openssl/rand.h>

#include <algorithm>

#include "attest/protocol.hpp"

namespace hwca::est {

ChallengeStore::ChallengeStore(std::chrono::seconds ttl, size_t per_node, Now now)
    : ttl_(ttl), per_node_(std::max<size_t>(per_node, 1)), now_(std::move(now)) {}

void ChallengeStore::sweep(Clock::time_point now) {
  std::erase_if(open_, [&](const auto& kv) {
    if (kv.second.expires > now) return false;
    gone_[kv.first] = Gone{kv.second.expires + ttl_, Miss::expired};
    return true;
  });
  std::erase_if(gone_, [&](const auto& kv) { return kv.second.forget_at <= now; });
}

Result<attest::Bytes> ChallengeStore::add(Challenge c) {
  attest::Bytes nonce(attest::kNonceSize);
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    return fail(ErrorKind::internal, "no random bytes for an attestation nonce");
  }
  std::lock_guard lock(mu_);
  const auto now = now_();
  sweep(now);
  // The node's oldest challenges beyond per_node - 1 make room for this one.
  std::vector<std::map<attest::Bytes, Entry>::iterator> mine;
  for (auto it = open_.begin(); it != open_.end(); ++it) {
    if (it->second.challenge.node == c.node) mine.push_back(it);
  }
  std::sort(mine.begin(), mine.end(),
            [](const auto& a, const auto& b) { return a->second.order < b->second.order; });
  for (size_t i = 0; i + per_node_ <= mine.size(); ++i) {
    gone_[mine[i]->first] = Gone{mine[i]->second.expires, Miss::superseded};
    open_.erase(mine[i]);
  }
  open_.emplace(nonce, Entry{std::move(c), now + ttl_, ++order_});
  return nonce;
}

tl::expected<Challenge, ChallengeStore::Miss> ChallengeStore::take(const attest::Bytes& nonce) {
  std::lock_guard lock(mu_);
  const auto now = now_();
  sweep(now);
  auto it = open_.find(nonce);
  if (it == open_.end()) {
    auto gone = gone_.find(nonce);
    return tl::unexpected(gone != gone_.end() ? gone->second.why : Miss::unknown);
  }
  Challenge c = std::move(it->second.challenge);
  gone_[nonce] = Gone{it->second.expires, Miss::reused};
  open_.erase(it);
  return c;
}

size_t ChallengeStore::size() {
  std::lock_guard lock(mu_);
  return open_.size();
}

}  // namespace hwca::est
