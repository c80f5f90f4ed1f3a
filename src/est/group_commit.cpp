#include "est/group_commit.hpp"

#include <exception>
#include <string>
#include <vector>

namespace hwca::est {

Status GroupCommit::commit(const ca::SignRequest& request, ca::IssuedCertificate& cert) {
  Waiter me;
  me.item = {&request, &cert};
  std::unique_lock lock(mu_);
  queue_.push_back(&me);
  while (!me.done) {
    if (leading_) {
      cv_.wait(lock);
      continue;
    }
    leading_ = true;
    std::vector<Waiter*> group;
    while (!queue_.empty() && group.size() < max_batch_) {
      group.push_back(queue_.front());
      queue_.pop_front();
    }
    lock.unlock();
    std::vector<ca::Issuer::Signed> batch;
    batch.reserve(group.size());
    for (auto* w : group) batch.push_back(w->item);
    Status result;
    try {
      result = issuer_.commit(batch);
    } catch (const std::exception& e) {  // bad_alloc: the group fails, the next may lead
      result =
          fail(ErrorKind::internal, std::string("cannot record the certificates: ") + e.what());
    }
    lock.lock();
    for (auto* w : group) {
      w->result = result;
      w->done = true;
    }
    leading_ = false;
    cv_.notify_all();
  }
  return me.result;
}

}  // namespace hwca::est
