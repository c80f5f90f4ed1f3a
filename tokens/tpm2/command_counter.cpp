#include "tokens/tpm2/command_counter.hpp"

#include <cstddef>

namespace hwca::tokens::tpm2 {
namespace {

constexpr uint64_t kMagic = 0x68776361636e7400;  // "hwcacnt"

template <typename Self>
Self* self_of(TSS2_TCTI_CONTEXT* ctx) {
  return reinterpret_cast<Self*>(ctx);
}

}  // namespace

CommandCounter::CommandCounter(TSS2_TCTI_CONTEXT* inner) {
  static_assert(offsetof(Self, common) == 0);
  self_.inner = inner;
  TSS2_TCTI_CONTEXT_COMMON_V1& v1 = self_.common.v1;
  v1.magic = kMagic;
  v1.version = 2;
  v1.transmit = [](TSS2_TCTI_CONTEXT* ctx, size_t size, const uint8_t* command) -> TSS2_RC {
    Self* s = self_of<Self>(ctx);
    s->count.fetch_add(1);
    return Tss2_Tcti_Transmit(s->inner, size, command);
  };
  v1.receive = [](TSS2_TCTI_CONTEXT* ctx, size_t* size, uint8_t* response,
                  int32_t timeout) -> TSS2_RC {
    return Tss2_Tcti_Receive(self_of<Self>(ctx)->inner, size, response, timeout);
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

}  // namespace hwca::tokens::tpm2
