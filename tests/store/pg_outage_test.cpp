// What only a server can do to the PostgreSQL store: stop and come back under it. A server of
// the test's own (not the shared one other tests use): while it is down every call fails
// with one line naming the database (ErrorKind::io, ErrorSource::database: a server answers
// 503) and records nothing; once it is back the same store object carries on, no reopening,
// its idle connections made anew before their first statement.
#include <gtest/gtest.h>

#include "ca/pg_issuance_store.hpp"
#include "support/postgres.hpp"
#include "support/store_records.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ErrorSource;
using hwca::test::lineage::cert;

class PgOutage : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = hwca::ca::PgIssuanceStore::open(server_.url(server_.create_database()), {});
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    ASSERT_TRUE(store_->record({cert("root", "01")}));
  }

  hwca::test::PostgresServer server_;  // the test's own: it stops and crashes
  std::unique_ptr<hwca::ca::PgIssuanceStore> store_;
};

TEST_F(PgOutage, AStoreCarriesOnAfterTheServerRestarts) {
  auto& db = *store_;
  auto& server = server_;
  ASSERT_EQ(*db.next_crl_number("root"), 1u);

  server.stop();
  auto down = db.record({cert("root", "02")});
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().kind, ErrorKind::io) << down.error().message;
  EXPECT_EQ(down.error().source, ErrorSource::database);
  EXPECT_NE(down.error().message.find(db.describe()), std::string::npos) << down.error().message;
  EXPECT_EQ(down.error().message.find('\n'), std::string::npos) << down.error().message;
  EXPECT_FALSE(db.ping());
  EXPECT_FALSE(db.find("root", "01"));

  server.start();
  // The first call after the restart succeeds: no request pays for the broken connection.
  ASSERT_TRUE(db.ping());
  auto first = db.find("root", "01");
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(first->has_value());
  auto none = db.find("root", "02");  // refused while down: not recorded
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(db.record({cert("root", "02")}));
  EXPECT_EQ(*db.next_crl_number("root"), 2u);
  EXPECT_EQ(db.list("root", std::nullopt)->size(), 2u);
}

// No call while it was down: the pool's idle connection is dead when the server is back,
// and is made anew before the first statement instead of failing it.
TEST_F(PgOutage, AnIdleConnectionIsMadeAnewAfterARestart) {
  auto& db = *store_;
  server_.stop();
  server_.start();
  auto ping = db.ping();
  EXPECT_TRUE(ping) << ping.error().message;
  auto again = db.record({cert("root", "02")});
  EXPECT_TRUE(again) << again.error().message;
}

TEST_F(PgOutage, AStoreCarriesOnAfterTheServerCrashes) {
  auto& db = *store_;
  server_.kill();  // SIGKILL: what was committed must be there after recovery
  EXPECT_FALSE(db.record({cert("root", "02")}));
  server_.start();
  ASSERT_TRUE(db.record({cert("root", "03")}));
  auto all = db.list("root", std::nullopt);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(hwca::test::lineage::serials(*all), (std::vector<std::string>{"01", "03"}));
}

}  // namespace
