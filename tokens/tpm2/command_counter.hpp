// A TCTI that passes every call on to another and counts the commands it transmits: how many
// TPM commands a process sent (hwca-node reports it for an enrollment, for the benchmark).
// It also watches each command, from its transmission to the end of its answer, with a
// CallWatch naming the command ("TPM2_Sign") and the TPM: every Esys call of hwca goes
// through here, so a TPM that stops answering cannot hang any of them.
#pragma once

#include <tss2/tss2_tcti.h>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "tokens/call_watch.hpp"

namespace hwca::tokens::tpm2 {

class CommandCounter {
 public:
  // `inner` stays the caller's (it outlives this object, and is finalised by its owner).
  // `device` names the TPM in the watchdog's message.
  CommandCounter(TSS2_TCTI_CONTEXT* inner, std::string device);
  CommandCounter(const CommandCounter&) = delete;
  CommandCounter& operator=(const CommandCounter&) = delete;

  // The TCTI to hand to ESYS in place of `inner`.
  TSS2_TCTI_CONTEXT* tcti() { return reinterpret_cast<TSS2_TCTI_CONTEXT*>(&self_); }
  uint64_t commands() const { return self_.count.load(); }
  // Pass the calls on to another TCTI from now on (a reconnection); the count goes on.
  void rebind(TSS2_TCTI_CONTEXT* inner);

 private:
  // The command in flight, watched (ESYS sends one at a time, under the context's lock).
  struct Watched {
    std::string device;
    std::optional<CallWatch> call;
  };
  // The common TCTI structure first, as every TCTI's context: the functions find the rest
  // of the object behind it.
  struct Self {
    TSS2_TCTI_CONTEXT_COMMON_V2 common{};
    TSS2_TCTI_CONTEXT* inner = nullptr;
    std::atomic<uint64_t> count{0};
    Watched* watched = nullptr;
  };
  Watched watched_;
  Self self_;
};

}  // namespace hwca::tokens::tpm2
