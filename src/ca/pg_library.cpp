#include "ca/pg_library.hpp"

#include <dlfcn.h>

#include <mutex>
#include <string>

namespace hwca::ca::pg {

Result<const Libpq*> libpq() {
  static std::once_flag once;
  static Libpq lib;
  static std::string error;
  std::call_once(once, [] {
    void* handle = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      error = why ? why : "libpq.so.5 not found";
      return;
    }
#define HWCA_LIBPQ_LOAD(name)                                             \
  lib.name = reinterpret_cast<decltype(&::name)>(::dlsym(handle, #name)); \
  if (lib.name == nullptr) {                                              \
    error = "libpq.so.5 has no " #name;                                   \
    return;                                                               \
  }
    HWCA_LIBPQ_FUNCTIONS(HWCA_LIBPQ_LOAD)
#undef HWCA_LIBPQ_LOAD
  });
  if (!error.empty()) {
    return tl::unexpected(Error{ErrorKind::not_found,
                                "a PostgreSQL database needs libpq, which cannot be loaded (" +
                                    error + "): install it (apt-get install libpq5)",
                                ErrorSource::database});
  }
  return &lib;
}

}  // namespace hwca::ca::pg
