// Unit tests for what only SqliteIssuanceStore does with the lineage (schema version 3,
// issuance_store.hpp), a database in a file: a version-2 database upgraded with its keys
// digested from the certificates it holds (read-only, it stays version 2 and reads without
// lineage). What every store does (renewed_from and the key digest recorded, keys revoked
// for keyCompromise, revoking a certificate with everything renewed from it) is in
// tests/store/issuance_lineage_contract_test.cpp, run against SQLite and PostgreSQL.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "ca/certificate_builder.hpp"
#include "ca/spki.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "support/store_records.hpp"
#include "support/temp_dir.hpp"
#include "support/test_csr.hpp"
#include "unit/issuance_schema_fixtures.hpp"

namespace {

using hwca::ca::IssuedCert;
using hwca::ca::SqliteIssuanceStore;
namespace test = hwca::test;
using namespace test::lineage;
using test::kSchemaV2Fixture;
using test::user_version;

// A self-signed certificate for `key` (its DER): what the store digests the key from.
std::vector<uint8_t> certificate_der(EVP_PKEY* key, long serial) {
  hwca::ossl::Ptr<X509> x(X509_new());
  auto name = test::name_of({{"CN", "lineage " + std::to_string(serial)}});
  if (!x || X509_set_version(x.get(), 2) != 1 ||
      ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial) != 1 ||
      X509_set_subject_name(x.get(), name.get()) != 1 ||
      X509_set_issuer_name(x.get(), name.get()) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(x.get()), 0) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600) == nullptr ||
      X509_set_pubkey(x.get(), key) != 1 || X509_sign(x.get(), key, EVP_sha256()) <= 0) {
    throw std::runtime_error("cannot make a certificate");
  }
  return hwca::ca::cert_der(x.get());
}

std::string spki_of(EVP_PKEY* key) {
  hwca::ossl::Ptr<X509_REQ> req = test::simple_csr(key, "k");
  return hwca::ca::spki_sha256(X509_REQ_get_X509_PUBKEY(req.get()));
}

class IssuanceLineage : public ::testing::Test {
 protected:
  test::TempDir tmp_{"hwca-lineage"};
  std::string path_ = tmp_.file("issuance.db");

  std::unique_ptr<SqliteIssuanceStore> open_store(bool read_only = false) {
    auto s = SqliteIssuanceStore::open(path_, {.read_only = read_only});
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }
};

// A version-2 file opened writable gets the lineage of version 3 (and on to the current one): its
// rows kept, each one's key digested from its DER (a DER that is no certificate stays unknown);
// opened read-only it stays version 2 and reads without lineage. A new record without a digest gets
// one from its DER.
TEST_F(IssuanceLineage, APreviousSchemaIsUpgradedWithItsKeysDigested) {
  auto k1 = test::ec_key("P-256");
  auto k2 = test::ec_key("P-384");
  const auto der1 = certificate_der(k1.get(), 1);
  const auto der2 = certificate_der(k2.get(), 2);
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, kSchemaV2Fixture, nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "");
    sqlite3_stmt* s = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "INSERT INTO certs (ca, serial, profile, subject, not_before, "
                                 "not_after, requester, der, revoked_at, revocation_reason, "
                                 "recorded_at) VALUES ('root', ?1, 'kubelet-client', 'CN=x', "
                                 "1700000000, 2000000000, 'cli:uid=0', ?2, ?3, ?4, 1700000001)",
                                 -1, &s, nullptr),
              SQLITE_OK);
    auto insert = [&](const char* serial, const std::vector<uint8_t>& der, bool compromised) {
      sqlite3_bind_text(s, 1, serial, -1, SQLITE_TRANSIENT);
      sqlite3_bind_blob(s, 2, der.data(), static_cast<int>(der.size()), SQLITE_TRANSIENT);
      if (compromised) {
        sqlite3_bind_int64(s, 3, 1700000050);
        sqlite3_bind_int64(s, 4, 1);
      } else {
        sqlite3_bind_null(s, 3);
        sqlite3_bind_null(s, 4);
      }
      EXPECT_EQ(sqlite3_step(s), SQLITE_DONE) << sqlite3_errmsg(db);
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    };
    insert("01", der1, true);
    insert("02", der2, false);
    insert("03", {0x30, 0x00}, false);
    sqlite3_finalize(s);
    sqlite3_close(db);
  }
  ASSERT_EQ(user_version(path_), 2);
  {
    auto ro = open_store(/*read_only=*/true);
    ASSERT_TRUE(ro);
    auto one = ro->find("root", "01");
    ASSERT_TRUE(one && *one) << (one ? "" : one.error().message);
    EXPECT_EQ((*one)->der, der1);
    EXPECT_EQ((*one)->spki_sha256, "");
    EXPECT_TRUE(ro->renewals("root", "01")->empty());
    EXPECT_EQ(ro->list(std::nullopt, std::nullopt)->size(), 3u);
  }
  ASSERT_EQ(user_version(path_), 2);

  auto store = open_store();
  ASSERT_TRUE(store);
  EXPECT_EQ(user_version(path_), 6);  // and on to the current version
  const std::string s1 = spki_of(k1.get()), s2 = spki_of(k2.get());
  ASSERT_EQ(s1.size(), 64u);
  EXPECT_NE(s1, s2);
  EXPECT_EQ((*store->find("root", "01"))->spki_sha256, s1);
  EXPECT_EQ((*store->find("root", "02"))->spki_sha256, s2);
  EXPECT_EQ((*store->find("root", "03"))->spki_sha256, "");
  EXPECT_EQ((*store->find("root", "01"))->der, der1);
  // The key of the revoked-for-keyCompromise row is known as compromised at once.
  EXPECT_TRUE(*store->key_compromised(s1));
  EXPECT_FALSE(*store->key_compromised(s2));
  ASSERT_TRUE(store->record({cert("root", "04", "02", s2)}));
  EXPECT_EQ(serials(*store->renewals("root", "02")), std::vector<std::string>{"04"});
  // A record without its key digest (a CA's own, from `hwca ca init`) gets it from its DER.
  IssuedCert own = cert("root", "05");
  own.der = der2;
  ASSERT_TRUE(store->record({own}));
  EXPECT_EQ((*store->find("root", "05"))->spki_sha256, s2);
}

}  // namespace
