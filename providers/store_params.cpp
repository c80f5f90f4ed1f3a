// tokens::OpenOptions as the provider's STORE parameters and back (store_params.hpp).
#include "providers/store_params.hpp"

#include <openssl/core_names.h>
#include <openssl/params.h>

#include <utility>

#include "providers/provider_init.h"

namespace hwca::provider {
namespace {

// Each option a parameter carries, with its name. The prompt is not one of them.
template <typename Options>
auto fields(Options& o) {
  return std::array{std::pair{HWCA_PARAM_PIN_SOURCE, &o.pin_source},
                    std::pair{HWCA_PARAM_DEFAULT_PIN_SOURCE, &o.default_pin_source},
                    std::pair{HWCA_PARAM_PKCS11_MODULE, &o.module},
                    std::pair{HWCA_PARAM_TPM2_TCTI, &o.tcti}};
}

const OSSL_PARAM kSettable[] = {OSSL_PARAM_utf8_string(HWCA_PARAM_PIN_SOURCE, nullptr, 0),
                                OSSL_PARAM_utf8_string(HWCA_PARAM_DEFAULT_PIN_SOURCE, nullptr, 0),
                                OSSL_PARAM_utf8_string(HWCA_PARAM_PKCS11_MODULE, nullptr, 0),
                                OSSL_PARAM_utf8_string(HWCA_PARAM_TPM2_TCTI, nullptr, 0),
                                OSSL_PARAM_utf8_string(HWCA_PARAM_PIN_HINT, nullptr, 0),
                                OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, nullptr),
                                OSSL_PARAM_END};

// OSSL_PARAM's buffer is not const; a parameter passed to a setter is only read.
OSSL_PARAM utf8(const char* name, const std::string& value) {
  return OSSL_PARAM_construct_utf8_string(name, const_cast<char*>(value.c_str()), 0);
}

}  // namespace

StoreParams to_store_params(const tokens::OpenOptions& options, const std::string& pin_hint) {
  StoreParams params;
  size_t n = 0;
  for (const auto& [name, value] : fields(options)) {
    if (!value->empty()) params[n++] = utf8(name, *value);
  }
  if (!pin_hint.empty()) params[n++] = utf8(HWCA_PARAM_PIN_HINT, pin_hint);
  params[n] = OSSL_PARAM_construct_end();
  return params;
}

bool from_store_params(const OSSL_PARAM params[], tokens::OpenOptions& options,
                       std::string& pin_hint) {
  auto read = [&](const char* name, std::string& out) {
    const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, name);
    if (p == nullptr) return true;
    const char* s = nullptr;
    if (OSSL_PARAM_get_utf8_string_ptr(p, &s) != 1) return false;
    out = s;
    return true;
  };
  for (const auto& [name, value] : fields(options)) {
    if (!read(name, *value)) return false;
  }
  return read(HWCA_PARAM_PIN_HINT, pin_hint);
}

const OSSL_PARAM* settable_store_params() { return kSettable; }

}  // namespace hwca::provider
