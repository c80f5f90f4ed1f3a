// The audit chain's contract (src/ca/audit_trail.hpp), run against both places it is kept:
// the home's file (AuditLog) beside SQLite, and the PostgreSQL database's table
// (PgAuditTrail) that several instances share. Appends form one chain that verifies, also
// from several processes at once; an altered line is found; a chain cut under a writer is
// not continued; a trail that must exist refuses an empty chain. Issuing's commit point
// (IssuanceStore::record_audited) records certificates and appends their lines: both or
// neither on PostgreSQL (one transaction), the record first beside a file. What only the
// file does (torn lines, full disks, modes) is in tests/unit/audit_log_test.cpp.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "ca/audit_log.hpp"
#include "ca/pg_audit_trail.hpp"
#include "store/store_backends.hpp"
#include "support/child_process.hpp"
#include "support/store_records.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::AuditTrail;
using hwca::test::StoreBackend;

class AuditTrailContract : public hwca::test::StoreBackendTest {
 protected:
  void SetUp() override {
    StoreBackendTest::SetUp();
    ASSERT_TRUE(open_store());  // PostgreSQL: the schema, audit_events with it
  }

  std::unique_ptr<AuditTrail> open_trail() {
    if (GetParam() == StoreBackend::sqlite) {
      return std::make_unique<hwca::ca::AuditLog>(log_path_);
    }
    return std::make_unique<hwca::ca::PgAuditTrail>(target_);
  }

  // Every line removed, as one who empties the log under a running server would.
  void cut_chain() {
    if (GetParam() == StoreBackend::sqlite) {
      std::ofstream(log_path_, std::ios::trunc).flush();
    } else {
      hwca::test::execute_sql(target_, "DELETE FROM audit_events");
    }
  }

  // Line `seq`'s data changed, its link left as it was.
  void alter_line(int seq) {
    if (GetParam() == StoreBackend::sqlite) {
      std::ifstream in(log_path_);
      std::stringstream out;
      std::string line;
      for (int n = 1; std::getline(in, line); ++n) {
        if (n == seq) line.replace(line.find("\"n\":"), 5, "\"n\":9");
        out << line << "\n";
      }
      std::ofstream(log_path_, std::ios::trunc) << out.str();
    } else {
      hwca::test::execute_sql(target_,
                              "UPDATE audit_events SET line = replace(line, '\"n\":', "
                              "'\"n\":9') WHERE seq = " +
                                  std::to_string(seq));
    }
  }

  std::string log_path_ = tmp_.file("audit.log");
};

TEST_P(AuditTrailContract, AppendsFormOneChainThatVerifies) {
  auto trail = open_trail();
  std::string head;
  for (int n = 0; n < 3; ++n) {
    auto h = trail->append("test.one", {{"n", n}});
    ASSERT_TRUE(h) << h.error().message;
    EXPECT_NE(*h, head);
    head = *h;
  }
  auto batch = trail->append_all({{"test.batch", {{"n", 3}}}, {"test.batch", {{"n", 4}}}});
  ASSERT_TRUE(batch) << batch.error().message;
  std::vector<int> seen;
  auto again = open_trail();  // from where it is kept, not from the writer's memory
  auto summary = again->check_chain([&](const nlohmann::json& line) {
    seen.push_back(line["data"]["n"].get<int>());
    EXPECT_EQ(line["event"], seen.size() <= 3 ? "test.one" : "test.batch");
  });
  ASSERT_TRUE(summary) << summary.error().message;
  EXPECT_EQ(summary->lines, 5u);
  EXPECT_EQ(summary->head, *batch);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_P(AuditTrailContract, SeveralProcessesAppendToOneChain) {
  constexpr int kChildren = 4, kEach = 25;
  std::vector<pid_t> pids;
  for (int c = 0; c < kChildren; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto trail = open_trail();
      for (int i = 0; i < kEach; ++i) {
        if (!trail->append("test.child", {{"child", c}, {"n", i}})) ::_exit(1);
      }
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  EXPECT_EQ(hwca::test::failed_children(pids), 0);
  std::map<int, std::vector<int>> by_child;
  auto summary = open_trail()->check_chain([&](const nlohmann::json& line) {
    by_child[line["data"]["child"].get<int>()].push_back(line["data"]["n"].get<int>());
  });
  ASSERT_TRUE(summary) << summary.error().message;
  EXPECT_EQ(summary->lines, static_cast<size_t>(kChildren * kEach));
  for (int c = 0; c < kChildren; ++c) {
    std::vector<int> expected(kEach);
    for (int i = 0; i < kEach; ++i) expected[i] = i;
    EXPECT_EQ(by_child[c], expected) << "child " << c;  // each child's lines, in its order
  }
}

TEST_P(AuditTrailContract, AnAlteredLineBreaksTheChain) {
  auto trail = open_trail();
  for (int n = 0; n < 3; ++n) ASSERT_TRUE(trail->append("test.one", {{"n", n}}));
  ASSERT_TRUE(open_trail()->check_chain());
  alter_line(2);
  auto broken = open_trail()->check_chain();
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().kind, ErrorKind::conflict);
  EXPECT_NE(broken.error().message.find("line 3"), std::string::npos)  // 3 links to 2's hash
      << broken.error().message;
  EXPECT_NE(broken.error().message.find("altered"), std::string::npos) << broken.error().message;
}

TEST_P(AuditTrailContract, AChainCutUnderAWriterIsNotContinued) {
  auto trail = open_trail();
  ASSERT_TRUE(trail->append("test.one", {{"n", 0}}));
  ASSERT_TRUE(trail->append("test.one", {{"n", 1}}));
  cut_chain();
  auto after = trail->append("test.one", {{"n", 2}});
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().kind, ErrorKind::conflict);
  EXPECT_NE(after.error().message.find("restore"), std::string::npos) << after.error().message;
  auto summary = open_trail()->check_chain();
  ASSERT_TRUE(summary) << summary.error().message;
  EXPECT_EQ(summary->lines, 0u);  // no new chain was started
}

TEST_P(AuditTrailContract, ATrailThatMustExistRefusesAnEmptyChain) {
  auto trail = open_trail();
  auto anchored = trail->anchor(/*must_exist=*/true);
  ASSERT_FALSE(anchored);
  EXPECT_EQ(anchored.error().kind, ErrorKind::conflict);
  auto append = trail->append("test.one", {{"n", 0}});
  ASSERT_FALSE(append);
  EXPECT_EQ(append.error().kind, ErrorKind::conflict);

  auto writer = open_trail();  // one that need not: the first line of a new chain
  ASSERT_TRUE(writer->anchor(/*must_exist=*/false));
  ASSERT_TRUE(writer->append("test.one", {{"n", 0}}));
  EXPECT_TRUE(trail->anchor(/*must_exist=*/true));
  EXPECT_TRUE(trail->append("test.one", {{"n", 1}}));
  EXPECT_EQ(open_trail()->check_chain()->lines, 2u);
}

std::vector<AuditTrail::Event> issued_events(const std::vector<hwca::ca::IssuedCert>& batch) {
  std::vector<AuditTrail::Event> events;
  for (const auto& c : batch) events.push_back({"cert.issued", {{"serial", c.serial}}});
  return events;
}

TEST_P(AuditTrailContract, RecordAuditedRecordsTheBatchAndAppendsItsLines) {
  using hwca::test::issuance::cert;
  auto store = open_store();
  auto trail = open_trail();
  std::vector<hwca::ca::IssuedCert> batch{cert("root", "0a01"), cert("root", "0a02")};
  auto ok = store->record_audited(batch, *trail, issued_events(batch));
  ASSERT_TRUE(ok) << ok.error().error.message;
  for (const auto& c : batch) EXPECT_TRUE(*store->serial_exists("root", c.serial)) << c.serial;
  std::vector<std::string> lines;
  auto summary = open_trail()->check_chain(
      [&](const nlohmann::json& line) { lines.push_back(line["data"]["serial"]); });
  ASSERT_TRUE(summary) << summary.error().message;
  EXPECT_EQ(lines, (std::vector<std::string>{"0a01", "0a02"}));
}

TEST_P(AuditTrailContract, ARecordRefusedAppendsNoLine) {
  using hwca::test::issuance::cert;
  auto store = open_store();
  auto trail = open_trail();
  ASSERT_TRUE(store->record({cert("root", "0b01")}));
  ASSERT_TRUE(trail->append("test.one", {{"n", 0}}));
  std::vector<hwca::ca::IssuedCert> batch{cert("root", "0b02"), cert("root", "0b01")};
  auto refused = store->record_audited(batch, *trail, issued_events(batch));
  ASSERT_FALSE(refused);
  EXPECT_FALSE(refused.error().recorded);
  EXPECT_EQ(refused.error().error.kind, ErrorKind::conflict) << refused.error().error.message;
  EXPECT_FALSE(*store->serial_exists("root", "0b02"));
  EXPECT_EQ(open_trail()->check_chain()->lines, 1u);
}

// The process dies, or the chain refuses the lines, between the record and its lines: on
// PostgreSQL the certificates are not recorded either; beside a file they stay recorded and
// the error says so (the Issuer then withholds them, 'hwca audit verify' names them).
TEST_P(AuditTrailContract, LinesRefusedAfterTheRecordLeaveItOnlyBesideAFile) {
  using hwca::test::issuance::cert;
  auto store = open_store();
  auto trail = open_trail();
  ASSERT_TRUE(trail->append("test.one", {{"n", 0}}));
  cut_chain();  // the next append is refused: the line it wrote is gone
  std::vector<hwca::ca::IssuedCert> batch{cert("root", "0c01")};
  auto refused = store->record_audited(batch, *trail, issued_events(batch));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().error.kind, ErrorKind::conflict) << refused.error().error.message;
  const bool one_transaction = GetParam() == StoreBackend::postgresql;
  EXPECT_EQ(refused.error().recorded, !one_transaction);
  EXPECT_EQ(*store->serial_exists("root", "0c01"), !one_transaction);
  EXPECT_EQ(open_trail()->check_chain()->lines, 0u);
}

INSTANTIATE_STORE_BACKENDS(AuditTrailContract);

}  // namespace
