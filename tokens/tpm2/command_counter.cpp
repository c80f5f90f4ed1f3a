#include "tokens/tpm2/command_counter.hpp"

#include <cstddef>
#include <utility>

namespace hwca::tokens::tpm2 {
namespace {

constexpr uint64_t kMagic = 0x68776361636e7400;  // "hwcacnt"

template <typename Self>
Self* self_of(TSS2_TCTI_CONTEXT* ctx) {
  return reinterpret_cast<Self*>(ctx);
}

// The command code of a TPM command (big-endian, after the tag and the size).
uint32_t command_code(size_t size, const uint8_t* command) {
  if (size < 10) return 0;
  return (uint32_t{command[6]} << 24) | (uint32_t{command[7]} << 16) | (uint32_t{command[8]} << 8) |
         uint32_t{command[9]};
}

// The commands hwca sends by name; the watchdog's message says which one hung.
const char* command_name(uint32_t code) {
  switch (code) {
    case TPM2_CC_Startup:
      return "TPM2_Startup";
    case TPM2_CC_Sign:
      return "TPM2_Sign";
    case TPM2_CC_Load:
      return "TPM2_Load";
    case TPM2_CC_Create:
      return "TPM2_Create";
    case TPM2_CC_CreatePrimary:
      return "TPM2_CreatePrimary";
    case TPM2_CC_ReadPublic:
      return "TPM2_ReadPublic";
    case TPM2_CC_FlushContext:
      return "TPM2_FlushContext";
    case TPM2_CC_EvictControl:
      return "TPM2_EvictControl";
    case TPM2_CC_GetCapability:
      return "TPM2_GetCapability";
    case TPM2_CC_TestParms:
      return "TPM2_TestParms";
    case TPM2_CC_Certify:
      return "TPM2_Certify";
    case TPM2_CC_ActivateCredential:
      return "TPM2_ActivateCredential";
    case TPM2_CC_StartAuthSession:
      return "TPM2_StartAuthSession";
    case TPM2_CC_PolicySecret:
      return "TPM2_PolicySecret";
    case TPM2_CC_NV_ReadPublic:
      return "TPM2_NV_ReadPublic";
    case TPM2_CC_NV_Read:
      return "TPM2_NV_Read";
    case TPM2_CC_GetRandom:
      return "TPM2_GetRandom";
    default:
      return "a TPM command";
  }
}

}  // namespace

CommandCounter::CommandCounter(TSS2_TCTI_CONTEXT* inner, std::string device) {
  static_assert(offsetof(Self, common) == 0);
  self_.inner = inner;
  watched_.device = std::move(device);
  self_.watched = &watched_;
  TSS2_TCTI_CONTEXT_COMMON_V1& v1 = self_.common.v1;
  v1.magic = kMagic;
  v1.version = 2;
  v1.transmit = [](TSS2_TCTI_CONTEXT* ctx, size_t size, const uint8_t* command) -> TSS2_RC {
    Self* s = self_of<Self>(ctx);
    s->count.fetch_add(1);
    // Watched until its answer is in (receive), or now if it could not be sent.
    s->watched->call.emplace(command_name(command_code(size, command)), s->watched->device);
    TSS2_RC rc = Tss2_Tcti_Transmit(s->inner, size, command);
    if (rc != TSS2_RC_SUCCESS) s->watched->call.reset();
    return rc;
  };
  v1.receive = [](TSS2_TCTI_CONTEXT* ctx, size_t* size, uint8_t* response,
                  int32_t timeout) -> TSS2_RC {
    Self* s = self_of<Self>(ctx);
    TSS2_RC rc = Tss2_Tcti_Receive(s->inner, size, response, timeout);
    // A size query (no buffer) or a poll that timed out leaves the command in flight.
    bool pending = rc == TSS2_TCTI_RC_TRY_AGAIN || (rc == TSS2_RC_SUCCESS && response == nullptr);
    if (!pending) s->watched->call.reset();
    return rc;
  };
  v1.finalize = [](TSS2_TCTI_CONTEXT*) {};  // the inner TCTI is its owner's to finalise
  v1.cancel = [](TSS2_TCTI_CONTEXT* ctx) -> TSS2_RC {
    return Tss2_Tcti_Cancel(self_of<Self>(ctx)->inner);
  };
  v1.getPollHandles = [](TSS2_TCTI_CONTEXT* ctx, TSS2_TCTI_POLL_HANDLE* handles,
                         size_t* count) -> TSS2_RC {
    return Tss2_Tcti_GetPollHandles(self_of<Self>(ctx)->inner, handles, count);
  };
  v1.setLocality = [](TSS2_TCTI_CONTEXT* ctx, uint8_t locality) -> TSS2_RC {
    return Tss2_Tcti_SetLocality(self_of<Self>(ctx)->inner, locality);
  };
  self_.common.makeSticky = [](TSS2_TCTI_CONTEXT* ctx, TPM2_HANDLE* handle,
                               uint8_t sticky) -> TSS2_RC {
    return Tss2_Tcti_MakeSticky(self_of<Self>(ctx)->inner, handle, sticky);
  };
}

void CommandCounter::rebind(TSS2_TCTI_CONTEXT* inner) {
  watched_.call.reset();
  self_.inner = inner;
}

}  // namespace hwca::tokens::tpm2
