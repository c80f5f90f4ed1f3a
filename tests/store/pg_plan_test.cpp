// The plans of pg::Connection's prepared statements follow the tables: one planned while a
// table was small (a new database) scans it whole, and is planned again for the table as it
// has grown once the connection's plans are refreshed (Connection::refresh_plans, which the
// pool runs on an idle connection every 10 s).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "ca/pg_connection.hpp"
#include "support/postgres.hpp"

namespace {

namespace pg = hwca::ca::pg;

// The plan the server would run now for the statement the connection prepared first.
std::string plan(pg::Connection& c) {
  auto rows = c.exec("EXPLAIN EXECUTE hwca_0(5)", "explain");
  EXPECT_TRUE(rows) << rows.error().message;
  std::string out;
  for (int i = 0; rows && i < rows->size(); ++i) out += rows->text(i, 0) + "\n";
  return out;
}

TEST(PgPlans, AStatementPlannedOnASmallTableIsPlannedAgainOnceItGrew) {
  auto c = pg::Connection::open(hwca::test::fresh_database_url(), "test", false);
  ASSERT_TRUE(c) << c.error().message;
  pg::Connection& conn = **c;
  ASSERT_TRUE(
      conn.exec_script("CREATE TABLE t (seq bigint PRIMARY KEY, line text NOT NULL);"
                       "INSERT INTO t SELECT g, repeat('x', 400) "
                       "FROM generate_series(1, 30) g; ANALYZE t",
                       "set up"));
  // Past the server's five custom plans: the sixth run onwards uses the generic one.
  for (int i = 0; i < 7; ++i) {
    auto r = conn.exec("SELECT line FROM t WHERE seq = $1", pg::Params().int64(5), "read");
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 1);
  }
  ASSERT_TRUE(
      conn.exec_script("INSERT INTO t SELECT g, repeat('x', 400) "
                       "FROM generate_series(31, 20000) g",
                       "grow"));
  EXPECT_NE(plan(conn).find("Seq Scan"), std::string::npos) << plan(conn);

  const auto now = std::chrono::steady_clock::now();
  ASSERT_TRUE(conn.refresh_plans(now));  // within 10 s of the connection's start: kept
  EXPECT_NE(plan(conn).find("Seq Scan"), std::string::npos) << plan(conn);
  auto refreshed = conn.refresh_plans(now + std::chrono::seconds(11));
  ASSERT_TRUE(refreshed) << refreshed.error().message;
  const std::string after = plan(conn);
  EXPECT_EQ(after.find("Seq Scan"), std::string::npos) << after;
  EXPECT_NE(after.find("t_pkey"), std::string::npos) << after;
}

}  // namespace
