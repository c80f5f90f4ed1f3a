// What only PostgreSQL's schema must say: every text column compares bytewise (COLLATE "C"),
// as SQLite does, so that names, serials and ids sort alike in both stores whatever locale
// the server was made with (a server in en_US.UTF-8 orders "node-b" and "node.a" otherwise).
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <memory>

#include "ca/pg_issuance_store.hpp"
#include "support/postgres.hpp"

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

}  // namespace
