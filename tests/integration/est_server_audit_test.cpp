// The EST server and what it writes down (the fixture of est_server_fixture.hpp): refusals
// of requests that never authenticated are counted and summed up, not one synced audit line
// each; a refusal that cannot be audited is counted and logged; the database, the audit log
// or the disk failing is an outage (503 with Retry-After, a short message, the cause in the
// server's log only), and /healthz says when the database cannot be read.
#include <sys/stat.h>

#include <filesystem>

#include "est_server_fixture.hpp"

namespace hwca::test {
namespace {

namespace fs = std::filesystem;

uintmax_t file_size(const std::string& path) {
  std::error_code ec;
  auto n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

// Issue 14, item 3: 500 requests with a 7,000-character Content-Type from one connection
// added 3.6 MB to the audit log, one fsync'd line each. Now: every one is answered and
// counted exactly, the reply quotes a bounded Content-Type, and the log gains one summary
// line (at the stop), not 500.
TEST_F(EstServerTest, AnonymousRefusalsAreCountedAndSummarisedNotLoggedEach) {
  start();
  auto cli = client();
  auto key = software_key();
  const std::string body = request_body(key.get(), node_subject("node-z").get());
  const std::string type(7000, 'x');
  const size_t lines_before = audit_lines();
  const auto bytes_before = file_size(audit_path_);
  for (int i = 0; i < 500; ++i) {
    auto a = i % 2 == 0 ? answer_of(cli->Post(kEnroll, body, type.c_str()))
                        : answer_of(cli->Post(
                              kEnroll, basic("node-z", "abcdef.0123456789abcdef0123456789abcdef"),
                              body, type.c_str()));
    ASSERT_TRUE(a.transport_ok) << i << ": " << httplib::to_string(a.error);
    if (i % 2 == 0) {
      ASSERT_EQ(a.status, 401) << a.body;
    } else {
      ASSERT_EQ(a.status, 415) << a.body;
      EXPECT_LT(a.body.size(), 300u) << "the reply quotes the whole Content-Type";
      EXPECT_NE(a.body.find("more bytes]"), std::string::npos) << a.body;
    }
  }
  const std::string m = metrics_.text();
  EXPECT_EQ(sample(m, rejected("auth")), 250) << m;
  EXPECT_EQ(sample(m, rejected("content_type")), 250) << m;
  EXPECT_EQ(audit_lines(), lines_before) << "refusals audited one by one while serving";

  stop_server();
  const size_t lines_after = audit_lines();
  EXPECT_LE(lines_after, lines_before + 2);
  EXPECT_LT(file_size(audit_path_) - bytes_before, 4096u);
  EXPECT_EQ(summarised(lines_before),
            (std::map<std::string, uint64_t>{{"auth", 250}, {"content_type", 250}}));
  auto view = audit_view(lines_before);
  EXPECT_EQ(view.events["est.rejected"], 0);
  EXPECT_EQ(view.events["est.rejected.summary"], 1);
}

// Item 6: a refusal whose audit line cannot be written (the log replaced by a directory) is
// still answered, and counted in hwca_est_audit_errors_total and logged.
TEST_F(EstServerTest, ARefusalThatCannotBeAuditedIsCounted) {
  start();
  auto cli = client();
  auto key = software_key();
  const std::string token = add_token("node-q");
  ASSERT_EQ(::rename(audit_path_.c_str(), (audit_path_ + ".saved").c_str()), 0);
  ASSERT_EQ(::mkdir(audit_path_.c_str(), 0700), 0);
  // node-q asks for another node's name: 403, one audit line (that cannot be written).
  auto a =
      answer_of(cli->Post(kEnroll, basic("node-q", token),
                          request_body(key.get(), node_subject("node-x").get()), est::kPkcs10Type));
  EXPECT_EQ(a.status, 403) << a.body;
  std::string m = metrics_.text();
  EXPECT_EQ(sample(m, "hwca_est_audit_errors_total"), 1) << m;
  EXPECT_EQ(sample(m, rejected("subject")), 1) << m;
  auto logged = log_lines();
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("cannot audit the refusal of node 'node-q'"), std::string::npos)
      << logged[0];
  // The summary at the stop cannot be written either: counted too, its counts logged.
  auto anonymous = answer_of(cli->Post(kEnroll, "", est::kPkcs10Type));
  EXPECT_EQ(anonymous.status, 401);
  stop_server();
  m = metrics_.text();
  EXPECT_EQ(sample(m, "hwca_est_audit_errors_total"), 2) << m;
  logged = log_lines();
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_NE(logged[1].find("\"auth\":1"), std::string::npos) << logged[1];
  ASSERT_EQ(::rmdir(audit_path_.c_str()), 0);
  ASSERT_EQ(::rename((audit_path_ + ".saved").c_str(), audit_path_.c_str()), 0);
}

// Item 14: the audit log cannot be written while a node enrolls. Since issue 17 room for the
// audit line is reserved before the record, so nothing is recorded (before: recorded but not
// handed out, with advice to revoke it). 503 with Retry-After, reason io, a short message
// without the cause or a path (the log has both and says nothing was issued); the token is
// given back, and once the log is back the same token enrolls.
TEST_F(EstServerTest, AnAuditLogThatCannotBeWrittenIsAnOutage) {
  start();
  auto cli = client();
  auto key = software_key();
  const std::string token = add_token("node-w");
  const std::string body = request_body(key.get(), node_subject("node-w").get());
  ASSERT_EQ(::rename(audit_path_.c_str(), (audit_path_ + ".saved").c_str()), 0);
  ASSERT_EQ(::mkdir(audit_path_.c_str(), 0700), 0);
  auto res = cli->Post(kEnroll, basic("node-w", token), body, est::kPkcs10Type);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 503) << res->body;
  EXPECT_EQ(res->get_header_value("Retry-After"), "30");
  EXPECT_EQ(res->body, "the CA cannot issue now; retry later\n");
  const std::string m = metrics_.text();
  EXPECT_EQ(sample(m, rejected("io")), 1) << m;
  EXPECT_EQ(sample(m, rejected("internal")), -1) << m;
  bool advised = false;
  for (const auto& line : log_lines()) {
    advised = advised || (line.find("(503, io)") != std::string::npos &&
                          line.find("nothing issued") != std::string::npos &&
                          line.find(audit_path_) != std::string::npos);
  }
  EXPECT_TRUE(advised) << "the log lacks the cause and the advice";

  ASSERT_EQ(::rmdir(audit_path_.c_str()), 0);
  ASSERT_EQ(::rename((audit_path_ + ".saved").c_str(), audit_path_.c_str()), 0);
  auto again = answer_of(cli->Post(kEnroll, basic("node-w", token), body, est::kPkcs10Type));
  ASSERT_EQ(again.status, 200) << again.body;
  ASSERT_EQ(again.certs.size(), 1u);
  expect_node_certificate(again.certs.front().get(), "node-w", key.get());
}

// Item 7: issuance.db emptied under a running server. An enrollment with a valid token is
// an outage of the database (503, Retry-After, counted as database), not a bad request
// (before: 400 with the database's path, counted as profile); the reply names no path;
// /healthz says the database cannot be read (before: ok).
TEST_F(EstServerTest, ABrokenDatabaseIsAnOutageNotABadRequest) {
  start();
  auto cli = client();
  auto before = enroll_nodes("db-", 1);
  const std::string token = add_token("node-db");
  auto key = software_key();
  const std::string db_path = home_->path(home_->config().database);
  // Everything into the main file first, as SQLite does by itself every 1000 pages (until
  // then, the write-ahead log would still serve the recent pages), then empty it.
  ASSERT_EQ(std::system(
                ("sqlite3 '" + db_path + "' 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null").c_str()),
            0);
  ASSERT_EQ(::truncate(db_path.c_str(), 0), 0);

  auto res = cli->Post(kEnroll, basic("node-db", token),
                       request_body(key.get(), node_subject("node-db").get()), est::kPkcs10Type);
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 503) << res->body;
  EXPECT_EQ(res->get_header_value("Retry-After"), "30");
  EXPECT_EQ(res->body.find('/'), std::string::npos) << "a path in the reply: " << res->body;
  EXPECT_EQ(res->body.find("issuance"), std::string::npos) << res->body;
  // A renewal (the client certificate looked up in the database) too.
  auto renewer = client(before[0].cert.get(), before[0].key.get());
  auto renewal = renewer->Post(kReenroll, before[0].body, est::kPkcs10Type);
  ASSERT_TRUE(renewal) << httplib::to_string(renewal.error());
  EXPECT_EQ(renewal->status, 503) << renewal->body;
  EXPECT_EQ(renewal->body.find('/'), std::string::npos) << renewal->body;

  const std::string m = metrics_.text();
  EXPECT_EQ(sample(m, rejected("database")), 2) << m;
  EXPECT_EQ(sample(m, rejected("profile")), -1) << m;
  auto health = cli->Get("/healthz");
  ASSERT_TRUE(health) << httplib::to_string(health.error());
  EXPECT_EQ(health->status, 503) << health->body;
  EXPECT_EQ(health->body.find('/'), std::string::npos) << health->body;
  bool named = false;
  for (const auto& line : log_lines()) named = named || line.find(db_path) != std::string::npos;
  EXPECT_TRUE(named) << "the log does not name the database";
}

}  // namespace
}  // namespace hwca::test
