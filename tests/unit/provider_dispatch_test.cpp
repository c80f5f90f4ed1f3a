// The provider's dispatch tables (providers/dispatch.hpp builds them): each ends where
// OpenSSL expects, offers each function id once, and the ids OpenSSL needs are there.
#include <gtest/gtest.h>
#include <openssl/core_dispatch.h>

#include <set>
#include <string>

#include "providers/provider.hpp"

namespace {

std::set<int> ids_of(const OSSL_DISPATCH* table, const std::string& name) {
  std::set<int> ids;
  int n = 0;
  for (; table->function_id != 0; ++table, ++n) {
    EXPECT_NE(table->function, nullptr) << name << " entry " << n;
    EXPECT_TRUE(ids.insert(table->function_id).second)
        << name << " offers function id " << table->function_id << " twice";
    EXPECT_LT(n, 64) << name << " has no end";
    if (n >= 64) break;
  }
  return ids;
}

TEST(ProviderDispatch, SignatureTables) {
  for (const auto* table : {hwca_rsa_signature_functions, hwca_ecdsa_signature_functions}) {
    auto ids = ids_of(table, "signature");
    EXPECT_EQ(ids.size(), 17u);
    for (int id : {OSSL_FUNC_SIGNATURE_NEWCTX, OSSL_FUNC_SIGNATURE_FREECTX,
                   OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL,
                   OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS}) {
      EXPECT_EQ(ids.count(id), 1u) << id;
    }
  }
}

TEST(ProviderDispatch, KeymgmtTables) {
  for (const auto* table : {hwca_rsa_keymgmt_functions, hwca_ec_keymgmt_functions}) {
    auto ids = ids_of(table, "keymgmt");
    EXPECT_EQ(ids.size(), 13u);
    for (int id : {OSSL_FUNC_KEYMGMT_NEW, OSSL_FUNC_KEYMGMT_FREE, OSSL_FUNC_KEYMGMT_LOAD,
                   OSSL_FUNC_KEYMGMT_HAS, OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME}) {
      EXPECT_EQ(ids.count(id), 1u) << id;
    }
  }
}

TEST(ProviderDispatch, StoreTable) {
  auto ids = ids_of(hwca_store_functions, "store");
  EXPECT_EQ(ids, (std::set<int>{OSSL_FUNC_STORE_OPEN, OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS,
                                OSSL_FUNC_STORE_SET_CTX_PARAMS, OSSL_FUNC_STORE_LOAD,
                                OSSL_FUNC_STORE_EOF, OSSL_FUNC_STORE_CLOSE}));
}

}  // namespace
