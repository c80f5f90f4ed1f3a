// The provider's STORE parameters: what the CA core writes is what the STORE reads.
#include "providers/store_params.hpp"

#include <gtest/gtest.h>
#include <openssl/params.h>

#include <cstring>

#include "providers/provider_init.h"

namespace hwca::provider {
namespace {

tokens::OpenOptions all_set() {
  tokens::OpenOptions o;
  o.module = "/usr/lib/softhsm/libsofthsm2.so";
  o.tcti = "swtpm:host=localhost,port=2321";
  o.pin_source = "env:PIN";
  o.default_pin_source = "file:/etc/hwca/pin";
  return o;
}

TEST(StoreParams, RoundTrip) {
  tokens::OpenOptions in = all_set();
  const std::string hint_in = "--pin-source";
  StoreParams params = to_store_params(in, hint_in);
  tokens::OpenOptions out;
  std::string hint = "unchanged";
  ASSERT_TRUE(from_store_params(params.data(), out, hint));
  EXPECT_EQ(out.module, in.module);
  EXPECT_EQ(out.tcti, in.tcti);
  EXPECT_EQ(out.pin_source, in.pin_source);
  EXPECT_EQ(out.default_pin_source, in.default_pin_source);
  EXPECT_EQ(hint, "--pin-source");
}

TEST(StoreParams, EmptyValuesAreNotSentSoDefaultsStay) {
  tokens::OpenOptions in;
  in.pin_source = "env:PIN";
  const std::string no_hint;
  StoreParams params = to_store_params(in, no_hint);
  EXPECT_EQ(OSSL_PARAM_locate(params.data(), HWCA_PARAM_PKCS11_MODULE), nullptr);
  EXPECT_EQ(OSSL_PARAM_locate(params.data(), HWCA_PARAM_PIN_HINT), nullptr);
  tokens::OpenOptions defaults = all_set();  // as the provider's openssl.cnf section gives
  std::string hint = "the openssl command's";
  ASSERT_TRUE(from_store_params(params.data(), defaults, hint));
  EXPECT_EQ(defaults.pin_source, "env:PIN");
  EXPECT_EQ(defaults.module, all_set().module);
  EXPECT_EQ(defaults.tcti, all_set().tcti);
  EXPECT_EQ(defaults.default_pin_source, all_set().default_pin_source);
  EXPECT_EQ(hint, "the openssl command's");
}

TEST(StoreParams, NamesAreTheDocumentedOnes) {
  const tokens::OpenOptions in = all_set();
  const std::string hint = "hint";
  StoreParams params = to_store_params(in, hint);
  for (const char* name :
       {"pin-source", "default-pin-source", "pkcs11-module", "tpm2-tcti", "pin-hint"}) {
    EXPECT_NE(OSSL_PARAM_locate(params.data(), name), nullptr) << name;
  }
  const OSSL_PARAM* settable = settable_store_params();
  for (const char* name :
       {"pin-source", "default-pin-source", "pkcs11-module", "tpm2-tcti", "pin-hint", "expect"}) {
    EXPECT_NE(OSSL_PARAM_locate_const(settable, name), nullptr) << name;
  }
}

TEST(StoreParams, AParameterOfAnotherTypeIsRefused) {
  int not_text = 1;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_int(HWCA_PARAM_TPM2_TCTI, &not_text),
                         OSSL_PARAM_construct_end()};
  tokens::OpenOptions out;
  std::string hint;
  EXPECT_FALSE(from_store_params(params, out, hint));
}

}  // namespace
}  // namespace hwca::provider
