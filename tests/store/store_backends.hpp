// The stores every contract test of tests/store runs against: SQLite (a file in a temporary
// folder of the test's own) and PostgreSQL (a fresh database on the tests' private server,
// support/postgres.hpp). A test names its fixture once:
//
//   class NodeRegistryContract : public hwca::test::StoreBackendTest {};
//   TEST_P(NodeRegistryContract, ...) { auto store = open_store(); ... }
//   INSTANTIATE_STORE_BACKENDS(NodeRegistryContract);
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>

#include "ca/database.hpp"
#include "support/postgres.hpp"
#include "support/temp_dir.hpp"

namespace hwca::test {

enum class StoreBackend { sqlite, postgresql };

inline void PrintTo(StoreBackend b, std::ostream* os) {
  *os << (b == StoreBackend::sqlite ? "sqlite" : "postgresql");
}

class StoreBackendTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    target_ = GetParam() == StoreBackend::sqlite ? tmp_.file("issued.db") : fresh_database_url();
  }

  std::unique_ptr<ca::Database> open_store(bool read_only = false) {
    auto s = ca::open_database(target_, {.read_only = read_only});
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }

  TempDir tmp_{"hwca-store"};
  std::string target_;  // the file's path, or the database's URL
};

inline std::string store_backend_name(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param == StoreBackend::sqlite ? "sqlite" : "postgresql";
}

}  // namespace hwca::test

#define INSTANTIATE_STORE_BACKENDS(fixture)                                                      \
  INSTANTIATE_TEST_SUITE_P(                                                                      \
      Backends, fixture,                                                                         \
      ::testing::Values(hwca::test::StoreBackend::sqlite, hwca::test::StoreBackend::postgresql), \
      hwca::test::store_backend_name)
