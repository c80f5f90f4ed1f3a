// Group commit: threads that each signed one certificate record and audit them together,
// so N concurrent enrollments cost one database transaction and one audit fsync instead of
// N of each. The first thread to arrive while no commit runs leads: it takes every waiting
// certificate (up to max_batch), commits them through Issuer::commit, and wakes their
// threads with the shared result; the others wait. No thread of its own, no timer: a lone
// request is committed at once.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>

#include "ca/issuer.hpp"

namespace hwca::est {

class GroupCommit {
 public:
  explicit GroupCommit(ca::Issuer& issuer, size_t max_batch = 256)
      : issuer_(issuer), max_batch_(max_batch) {}

  // Returns once `cert` is recorded and audited (then it may be handed out), or failed
  // with the rest of its group (then it must not be).
  Status commit(const ca::SignRequest& request, ca::IssuedCertificate& cert);

 private:
  struct Waiter {
    ca::Issuer::Signed item;
    bool done = false;
    Status result;
  };

  ca::Issuer& issuer_;
  const size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Waiter*> queue_;
  bool leading_ = false;
};

}  // namespace hwca::est
