// What only PostgreSQL's schema must say: every text column compares bytewise (COLLATE "C"),
// as SQLite does, so that names, serials and ids sort alike in both stores whatever locale
// the server was made with (a server in en_US.UTF-8 orders "node-b" and "node.a" otherwise);
// a database of an older version is upgraded when it is opened, its records kept.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <memory>

#include "ca/pg_issuance_store.hpp"
#include "support/postgres.hpp"
#include "support/store_records.hpp"

namespace {

TEST(PgSchema, EveryTextColumnComparesBytewise) {
  const std::string url = hwca::test::fresh_database_url();
  ASSERT_TRUE(hwca::ca::PgIssuanceStore::open(url, {}));  // makes the schema
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), PQfinish);
  ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
  std::unique_ptr<PGresult, decltype(&PQclear)> r(
      PQexec(conn.get(),
             "SELECT table_name || '.' || column_name, coalesce(collation_name, 'the default') "
             "FROM information_schema.columns WHERE table_schema = 'public' AND "
             "data_type = 'text' ORDER BY 1"),
      PQclear);
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(conn.get());
  ASSERT_GT(PQntuples(r.get()), 20);  // the schema's text columns are there to check
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    EXPECT_STREQ(PQgetvalue(r.get(), i, 1), "C") << PQgetvalue(r.get(), i, 0);
  }
}

// Version 1 (before the shared profiles): made from today's schema by taking version 2's table
// back out, as a database an older hwca left.
TEST(PgSchema, AVersionOneDatabaseIsUpgradedKeepingItsRecords) {
  const std::string url = hwca::test::fresh_database_url();
  {
    auto store = hwca::ca::PgIssuanceStore::open(url, {});
    ASSERT_TRUE(store) << store.error().message;
    ASSERT_TRUE((*store)->record({hwca::test::issuance::cert("root", "0d01")}));
  }
  hwca::test::execute_sql(url, "DROP TABLE shared_profiles; UPDATE hwca_schema SET version = 1");
  auto read_only = hwca::ca::PgIssuanceStore::open(url, {.read_only = true});
  ASSERT_FALSE(read_only);  // a reader never changes the schema
  EXPECT_NE(read_only.error().message.find("version 1"), std::string::npos)
      << read_only.error().message;
  auto store = hwca::ca::PgIssuanceStore::open(url, {});
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_TRUE(*(*store)->serial_exists("root", "0d01"));
  ASSERT_TRUE((*store)->publish_profiles("web:\n  base: server\n", 1900000000, "test"));
  auto profiles = (*store)->shared_profiles();
  ASSERT_TRUE(profiles) << profiles.error().message;
  EXPECT_EQ(*profiles, "web:\n  base: server\n");
}

}  // namespace
