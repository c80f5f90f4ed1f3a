// Unit tests for the issuance store's lineage (schema version 3, issuance_store.hpp): which
// certificate a renewal was authenticated by (renewed_from), the SHA-256 of every
// certificate's key (spki_sha256), keys revoked for keyCompromise, revoking a certificate
// with everything renewed from it, and a version-2 database upgraded with its keys digested
// from the certificates it holds.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "ca/certificate_builder.hpp"
#include "ca/spki.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "support/temp_dir.hpp"
#include "support/test_csr.hpp"
#include "unit/issuance_schema_fixtures.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::IssuedCert;
using hwca::ca::SqliteIssuanceStore;
namespace test = hwca::test;
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

IssuedCert cert(const std::string& ca, const std::string& serial, const std::string& from = "",
                const std::string& spki = "") {
  IssuedCert c;
  c.ca = ca;
  c.serial = serial;
  c.profile = "kubelet-client";
  c.subject = "CN=system:node:n1,O=system:nodes";
  c.not_before = 1700000000;
  c.not_after = 2000000000;
  c.requester = "est:n1";
  c.der = {0x30, 0x03, 0x02, 0x01, 0x01};
  c.renewed_from = from;
  c.spki_sha256 = spki;
  return c;
}

std::vector<std::string> serials(const std::vector<IssuedCert>& certs) {
  std::vector<std::string> out;
  for (const auto& c : certs) out.push_back(c.serial);
  return out;
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

TEST_F(IssuanceLineage, RenewedFromAndTheKeyDigestAreRecorded) {
  const std::string k1(64, 'a'), k2(64, 'b');
  {
    auto store = open_store();
    ASSERT_TRUE(store->record({cert("root", "01", "", k1), cert("root", "02", "01", k1),
                               cert("root", "03", "01", k2), cert("other", "04", "01", k2)}));
    // A renewed_from that is no serial, a key digest that is no SHA-256: refused.
    auto bad = store->record({cert("root", "05", "0A", k1)});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind, ErrorKind::usage);
    bad = store->record({cert("root", "05", "", "abc")});
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().kind, ErrorKind::usage);
  }
  auto store = open_store();  // from the file
  auto two = store->find("root", "02");
  ASSERT_TRUE(two && *two) << (two ? "" : two.error().message);
  EXPECT_EQ(**two, cert("root", "02", "01", k1));
  auto one = store->find("root", "01");
  ASSERT_TRUE(one && *one);
  EXPECT_EQ((*one)->renewed_from, "");
  EXPECT_EQ((*one)->spki_sha256, k1);
  // Renewals are per CA: other's 04 names a serial 01 of its own CA, not root's.
  auto renewals = store->renewals("root", "01");
  ASSERT_TRUE(renewals) << renewals.error().message;
  EXPECT_EQ(serials(*renewals), (std::vector<std::string>{"02", "03"}));
  EXPECT_TRUE(store->renewals("root", "02")->empty());
  EXPECT_EQ(serials(*store->renewals("other", "01")), std::vector<std::string>{"04"});
}

// Only a keyCompromise revocation (reason 1) marks a key, for every CA of the store.
TEST_F(IssuanceLineage, AKeyIsCompromisedOnlyByAKeyCompromiseRevocation) {
  const std::string k1(64, '1'), k2(64, '2'), k3(64, '3');
  auto store = open_store();
  ASSERT_TRUE(store->record(
      {cert("root", "01", "", k1), cert("root", "02", "", k2), cert("sub", "03", "", k3)}));
  for (const auto& k : {k1, k2, k3}) EXPECT_FALSE(*store->key_compromised(k));
  ASSERT_TRUE(store->revoke("root", "02", 0, 1700000100));  // unspecified
  ASSERT_TRUE(store->revoke("sub", "03", 4, 1700000100));   // superseded
  EXPECT_FALSE(*store->key_compromised(k2));
  EXPECT_FALSE(*store->key_compromised(k3));
  ASSERT_TRUE(store->revoke("root", "01", 1, 1700000100));  // keyCompromise
  EXPECT_TRUE(*store->key_compromised(k1));
  EXPECT_FALSE(*store->key_compromised(""));
  // Seen from another CA's record of the same key, and from a read-only opening.
  auto ro = open_store(/*read_only=*/true);
  EXPECT_TRUE(*ro->key_compromised(k1));
  EXPECT_FALSE(*ro->key_compromised(k2));
}

// 01 -> 02 -> 04, 01 -> 03; 05 unrelated; CA other's 06 names a serial 01 of its own.
TEST_F(IssuanceLineage, RevokingWithRenewalsFollowsTheLineageTransitively) {
  auto store = open_store();
  ASSERT_TRUE(
      store->record({cert("root", "01"), cert("root", "02", "01"), cert("root", "03", "01"),
                     cert("root", "04", "02"), cert("root", "05"), cert("other", "06", "01")}));
  auto none = store->revoke_with_renewals("root", "99", 1, 1700000000);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::not_found);
  // 02 already revoked (superseded): left so, but 04 renewed from it is followed.
  ASSERT_TRUE(store->revoke("root", "02", 4, 1600000000));
  auto revoked = store->revoke_with_renewals("root", "01", 1, 1700000000);
  ASSERT_TRUE(revoked) << revoked.error().message;
  EXPECT_EQ(serials(*revoked), (std::vector<std::string>{"01", "03", "04"}));
  for (const auto& c : *revoked) {
    EXPECT_TRUE(c.revoked);
    EXPECT_EQ(c.revocation_reason, 1);
  }
  store.reset();
  store = open_store();  // durable
  auto state = [&](const std::string& ca, const std::string& serial) {
    auto c = store->find(ca, serial);
    EXPECT_TRUE(c && *c);
    return c && *c ? std::make_pair((*c)->revoked, (*c)->revocation_reason)
                   : std::make_pair(false, -1);
  };
  EXPECT_EQ(state("root", "01"), std::make_pair(true, 1));
  EXPECT_EQ(state("root", "02"), std::make_pair(true, 4));  // as it was
  EXPECT_EQ(state("root", "03"), std::make_pair(true, 1));
  EXPECT_EQ(state("root", "04"), std::make_pair(true, 1));
  EXPECT_EQ(state("root", "05"), std::make_pair(false, 0));
  EXPECT_EQ(state("other", "06"), std::make_pair(false, 0));
  auto again = store->revoke_with_renewals("root", "01", 1, 1700000001);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::conflict);
  EXPECT_NE(again.error().message.find("already revoked"), std::string::npos);
  // The revoked root of a lineage still leads to a renewal recorded after it.
  ASSERT_TRUE(store->record({cert("root", "07", "04")}));
  auto late = store->revoke_with_renewals("root", "01", 0, 1700000002);
  ASSERT_TRUE(late) << late.error().message;
  EXPECT_EQ(serials(*late), std::vector<std::string>{"07"});
}

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
  EXPECT_EQ(user_version(path_), 5);  // and on to the current version
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
