// The attestation challenges the server has handed out and not yet seen answered: each is
// found by its nonce (32 random bytes), used once, and good for a fixed time (60 s by
// default). A challenge is bound to what round 1 established: the node, the EK (SHA-256 of
// its SubjectPublicKeyInfo), the AK's public area, the secret the credential carries, and
// the client certificate it was asked with, if any.
//
// Memory is bounded by the registry: a challenge is made only for a registered node's EK,
// and each node keeps at most `per_node` challenges (a new one pushes its oldest out).
// Spent, superseded and expired nonces are remembered for a while (until the nonce's
// expiry; an expired one for one more ttl), so that an answer is told why it came too late. In memory, one server process: a CA of
// several instances needs a shared store (docs/attestation.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "attest/tpm_public.hpp"
#include "common/result.hpp"

namespace hwca::est {

struct Challenge {
  std::string node;
  std::string ek_sha256;       // 64 lower-case hex
  attest::TpmPublic ak;        // the AK round 1 checked
  std::shared_ptr<EVP_PKEY> ak_key;  // its public key, built once by round 1's checks
  attest::Bytes secret;        // what ActivateCredential must give back
  std::string client_serial;   // the client certificate round 1 came with ("" if none)
};

class ChallengeStore {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  explicit ChallengeStore(std::chrono::seconds ttl = std::chrono::seconds(60), size_t per_node = 4,
                          Now now = Clock::now);

  std::chrono::seconds ttl() const { return ttl_; }

  // Keep `c` under a new random nonce, which is returned. internal if no random bytes.
  Result<attest::Bytes> add(Challenge c);

  enum class Miss {
    unknown,     // never handed out (or forgotten since)
    expired,     // its time passed before it was answered
    reused,      // answered before: a nonce is good once
    superseded,  // pushed out by newer challenges of its node
  };
  // The challenge of this nonce, removed: a nonce is good once.
  tl::expected<Challenge, Miss> take(const attest::Bytes& nonce);

  size_t size();  // challenges waiting (tests)

 private:
  struct Entry {
    Challenge challenge;
    Clock::time_point expires;
    uint64_t order;
  };
  void sweep(Clock::time_point now);  // under mu_

  std::chrono::seconds ttl_;
  size_t per_node_;
  Now now_;
  std::mutex mu_;
  std::map<attest::Bytes, Entry> open_;
  struct Gone {
    Clock::time_point forget_at;
    Miss why;
  };
  std::map<attest::Bytes, Gone> gone_;
  uint64_t order_ = 0;
};

}  // namespace hwca::est
