// A TCTI that passes every call on to another and counts the commands it transmits: how many
// TPM commands a process sent (hwca-node reports it for an enrollment, for the benchmark).
#pragma once

#include <tss2/tss2_tcti.h>

#include <atomic>
#include <cstdint>

namespace hwca::tokens::tpm2 {

class CommandCounter {
 public:
  // `inner` stays the caller's (it outlives this object, and is finalised by its owner).
  explicit CommandCounter(TSS2_TCTI_CONTEXT* inner);
  CommandCounter(const CommandCounter&) = delete;
  CommandCounter& operator=(const CommandCounter&) = delete;

  // The TCTI to hand to ESYS in place of `inner`.
  TSS2_TCTI_CONTEXT* tcti() { return reinterpret_cast<TSS2_TCTI_CONTEXT*>(&self_); }
  uint64_t commands() const { return self_.count.load(); }

 private:
  // The common TCTI structure first, as every TCTI's context: the functions find the rest
  // of the object behind it.
  struct Self {
    TSS2_TCTI_CONTEXT_COMMON_V2 common{};
    TSS2_TCTI_CONTEXT* inner = nullptr;
    std::atomic<uint64_t> count{0};
  };
  Self self_;
};

}  // namespace hwca::tokens::tpm2
