// The issuance store's lineage (issuance_store.hpp), run against both stores: SQLite (a
// file) and PostgreSQL (a private server the tests start, support/postgres.hpp). Which
// certificate a renewal was authenticated by (renewed_from), the SHA-256 of every
// certificate's key (spki_sha256), keys revoked for keyCompromise, revoking a certificate
// with everything renewed from it. What only a file has (a version-2 database upgraded with
// its keys digested from the certificates it holds) is in
// tests/unit/issuance_lineage_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "ca/database.hpp"
#include "store/store_backends.hpp"
#include "support/store_records.hpp"

namespace {

using hwca::ErrorKind;
using namespace hwca::test::lineage;

class IssuanceLineageContract : public hwca::test::StoreBackendTest {};

TEST_P(IssuanceLineageContract, RenewedFromAndTheKeyDigestAreRecorded) {
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
TEST_P(IssuanceLineageContract, AKeyIsCompromisedOnlyByAKeyCompromiseRevocation) {
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
TEST_P(IssuanceLineageContract, RevokingWithRenewalsFollowsTheLineageTransitively) {
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

INSTANTIATE_STORE_BACKENDS(IssuanceLineageContract);

}  // namespace
