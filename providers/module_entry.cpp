// The entry point of the loadable module build/lib/hwca.so (openssl -provider hwca).
#include "providers/provider.hpp"

extern "C" __attribute__((visibility("default"))) int OSSL_provider_init(
    const OSSL_CORE_HANDLE* handle, const OSSL_DISPATCH* in, const OSSL_DISPATCH** out,
    void** provctx) {
  return hwca::provider::init(handle, in, out, provctx, /*owns_tokens=*/true);
}
