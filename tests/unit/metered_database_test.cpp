// Unit tests for src/est/metered_database.hpp: every call through it is timed, and only the
// database's own failures are counted as errors, not its refusals.
#include "est/metered_database.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "ca/sqlite_issuance_store.hpp"
#include "support/store_records.hpp"
#include "support/temp_dir.hpp"

namespace {

// The value of one sample line of the exposition ("name value").
std::string sample(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + " ", 0) == 0) return line.substr(name.size() + 1);
  }
  return "absent";
}

TEST(MeteredDatabase, TimesEveryCallAndCountsOnlyTheDatabasesOwnFailures) {
  hwca::test::TempDir tmp{"hwca-metered"};
  const std::string path = tmp.file("issuance.db");
  auto store = hwca::ca::SqliteIssuanceStore::open(path);
  ASSERT_TRUE(store) << store.error().message;
  auto read_only = hwca::ca::SqliteIssuanceStore::open(path, {.read_only = true});
  ASSERT_TRUE(read_only) << read_only.error().message;
  hwca::est::Metrics metrics;
  hwca::est::MeteredDatabase db(**store, metrics);
  hwca::est::MeteredDatabase ro(**read_only, metrics);

  EXPECT_TRUE(db.ping());
  auto unknown = db.find("root", "01");  // found nothing: an answer, not a failure
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(unknown->has_value());
  auto refused = db.unregister_tpm("n1");  // a refusal (not_found), not a failure
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, hwca::ErrorKind::not_found);
  auto failed = ro.record({hwca::test::lineage::cert("root", "01")});  // read-only: a failure
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, hwca::ErrorKind::io) << failed.error().message;

  const std::string text = metrics.text();
  EXPECT_EQ(sample(text, "hwca_database_seconds_count"), "4") << text;
  EXPECT_EQ(sample(text, "hwca_database_seconds_bucket{le=\"+Inf\"}"), "4") << text;
  EXPECT_EQ(sample(text, "hwca_database_errors_total"), "1") << text;
  EXPECT_NE(text.find("# TYPE hwca_database_seconds histogram"), std::string::npos);
  EXPECT_EQ(db.describe(), path);
}

}  // namespace
