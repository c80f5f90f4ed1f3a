// Unit tests for what only SqliteIssuanceStore does with the TPM registry (tpm_registry.hpp,
// schema versions 4 and 5), a database in a file: version-3 and version-4 files upgraded
// with their rows kept (read-only, a version-3 one reads as an empty registry, a version-4
// one as TPMs without addresses). What every store does (one TPM per node and one node per
// EK, imports all or nothing, unregistering, EK roots, a node's addresses, the attestation
// columns of certificates, holds_records) is in tests/store/tpm_registry_contract_test.cpp,
// run against SQLite and PostgreSQL.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "ca/sqlite_issuance_store.hpp"
#include "support/store_records.hpp"
#include "support/temp_dir.hpp"
#include "unit/issuance_schema_fixtures.hpp"

namespace {

using hwca::ca::SqliteIssuanceStore;
namespace test = hwca::test;
using namespace test::tpm_registry;
using test::user_version;

// A certificate of a version-3 file, with its lineage.
const char* const kV3Row = R"sql(
INSERT INTO certs (ca, serial, profile, subject, not_before, not_after, requester, der,
  recorded_at, renewed_from, spki_sha256) VALUES ('root', '0a', 'kubelet-client', 'CN=x',
  1700000000, 2000000000, 'est:n1', x'3003020101', 1700000001, '09',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
)sql";

class TpmRegistryStore : public ::testing::Test {
 protected:
  test::TempDir tmp_{"hwca-tpm-registry"};
  std::string path_ = tmp_.file("issuance.db");

  std::unique_ptr<SqliteIssuanceStore> open_store(bool read_only = false) {
    auto s = SqliteIssuanceStore::open(path_, {.read_only = read_only});
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }
};

// A version-3 file read-only: its TPM registry reads as empty and its certificates have no
// attestation; opened writable it becomes the current version with its rows kept.
TEST_F(TpmRegistryStore, AVersion3DatabaseIsUpgradedWithItsRowsKept) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    for (const char* sql : {test::kSchemaV2Fixture, test::kSchemaV3FromV2, kV3Row}) {
      ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    }
    sqlite3_close(db);
  }
  ASSERT_EQ(user_version(path_), 3);
  {
    auto ro = open_store(/*read_only=*/true);
    ASSERT_TRUE(ro);
    auto tpms = ro->tpms();
    ASSERT_TRUE(tpms) << tpms.error().message;
    EXPECT_TRUE(tpms->empty());
    EXPECT_FALSE(ro->tpm("worker-1")->has_value());
    EXPECT_TRUE(ro->ek_roots()->empty());
    EXPECT_TRUE(*ro->holds_records());  // its certificate
    auto one = ro->find("root", "0a");
    ASSERT_TRUE(one && *one) << (one ? "" : one.error().message);
    EXPECT_EQ((*one)->renewed_from, "09");
    EXPECT_EQ((*one)->attest_ek_sha256, "");
    EXPECT_EQ(ro->renewals("root", "09")->size(), 1u);
    EXPECT_FALSE(ro->register_tpm(tpm("worker-1", 'a')));
  }
  ASSERT_EQ(user_version(path_), 3);

  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(user_version(path_), 6);
  auto kept = store->find("root", "0a");
  ASSERT_TRUE(kept && *kept);
  EXPECT_EQ((*kept)->renewed_from, "09");
  EXPECT_EQ((*kept)->spki_sha256, hex64('a'));
  EXPECT_EQ((*kept)->der, (std::vector<uint8_t>{0x30, 0x03, 0x02, 0x01, 0x01}));
  EXPECT_EQ((*kept)->attest_ek_sha256, "");
  ASSERT_TRUE(store->register_tpm(tpm("worker-1", 'a')));
  EXPECT_EQ(nodes_of(*store->tpms()), std::vector<std::string>{"worker-1"});
}

// A version-4 file (a TPM registry without addresses): read-only, its TPMs read with none;
// opened writable it becomes the current version, its TPMs kept with none, and takes
// addresses.
TEST_F(TpmRegistryStore, AVersion4DatabaseIsUpgradedToAddresses) {
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const char* row =
        "INSERT INTO node_tpms VALUES ('worker-1', "
        "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'certificate', "
        "x'3003020161', 1700000000, 'cli:uid=0')";
    for (const char* sql :
         {test::kSchemaV2Fixture, test::kSchemaV3FromV2, test::kSchemaV4FromV3, row}) {
      ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    }
    sqlite3_close(db);
  }
  ASSERT_EQ(user_version(path_), 4);
  {
    auto ro = open_store(/*read_only=*/true);
    ASSERT_TRUE(ro);
    auto one = ro->tpm("worker-1");
    ASSERT_TRUE(one && *one) << (one ? "" : one.error().message);
    EXPECT_EQ(**one, tpm("worker-1", 'a'));
    auto all = ro->tpms();
    ASSERT_TRUE(all) << all.error().message;
    EXPECT_EQ(nodes_of(*all), std::vector<std::string>{"worker-1"});
  }
  ASSERT_EQ(user_version(path_), 4);
  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(user_version(path_), 6);
  EXPECT_EQ(**store->tpm("worker-1"), tpm("worker-1", 'a'));
  auto with = tpm("worker-2", 'b');
  with.addresses = {"10.0.0.7"};
  ASSERT_TRUE(store->register_tpm(with));
  EXPECT_EQ(**store->tpm("worker-2"), with);
}

}  // namespace
