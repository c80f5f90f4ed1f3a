// The PostgreSQL test fixture (tests/support/postgres.hpp) and ctest's shared server
// (hwca_pg_fixture) themselves: every store test trusts that the database at its URL is a
// new one on a real server of the tests' own. Checked through libpq and psql directly.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "support/postgres.hpp"
#include "support/shell.hpp"
#include "support/temp_dir.hpp"

namespace hwca::test {
namespace {

// The first value of the first row of `sql`, or "ERROR: ..." (a mismatch shows why).
std::string query(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return std::string("ERROR: connect: ") + PQerrorMessage(conn.get());
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> result(PQexec(conn.get(), sql.c_str()), PQclear);
  ExecStatusType status = PQresultStatus(result.get());
  if (status == PGRES_COMMAND_OK) return "";
  if (status != PGRES_TUPLES_OK) return std::string("ERROR: ") + PQerrorMessage(conn.get());
  if (PQntuples(result.get()) == 0) return "(no rows)";
  return PQgetvalue(result.get(), 0, 0);
}

// Tables of the test's own in a database (none in a new one).
std::string user_tables(const std::string& url) {
  return query(url,
               "SELECT count(*) FROM pg_tables "
               "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')");
}

// Running, not a zombie: a process that holds nothing any more does not count.
bool process_runs(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (pid <= 0 || !std::getline(in, text)) return false;
  size_t end = text.rfind(')');
  return end != std::string::npos && end + 2 < text.size() && text[end + 2] != 'Z';
}

std::string text_of(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(PostgresFixture, APrivateServerAnswersOnItsOwnSocketOnly) {
  PostgresServer pg;
  EXPECT_EQ(query(pg.url(), "SELECT 1"), "1");
  EXPECT_EQ(query(pg.url(), "SELECT current_user"), "hwca");
  EXPECT_EQ(query(pg.url(), "SHOW listen_addresses"), "") << "it listens on TCP";
  EXPECT_EQ(query(pg.url(), "SHOW fsync"), "off");
  EXPECT_EQ(query(pg.url(), "SHOW unix_socket_directories"), pg.socket_dir());
  struct stat st {};
  std::string socket = pg.socket_dir() + "/.s.PGSQL." + std::to_string(pg.port());
  ASSERT_EQ(::stat(socket.c_str(), &st), 0) << socket;
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  ASSERT_EQ(::stat(pg.dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_GE(pg.port(), 20000);
  EXPECT_LE(pg.port(), 60000);
  // The URL as another client reads it (the socket folder percent-encoded).
  EXPECT_NE(pg.url().find("host=%2Ftmp%2Fhwca-pg-"), std::string::npos) << pg.url();
  int status = -1;
  std::string out =
      shell(postgres_bin_dir() + "/psql '" + pg.url() + "' -Atc 'SELECT 40 + 2'", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "42\n");
}

TEST(PostgresFixture, FsyncIsOnWhenAsked) {
  PostgresServer pg({.fsync = true});
  EXPECT_EQ(query(pg.url(), "SHOW fsync"), "on");
}

TEST(PostgresFixture, CreateDatabaseGivesNewEmptyDatabases) {
  PostgresServer pg;
  std::string a = pg.create_database(), b = pg.create_database();
  EXPECT_NE(a, b);
  EXPECT_EQ(query(pg.url(a), "SELECT current_database()"), a);
  EXPECT_EQ(query(pg.url(b), "SELECT current_database()"), b);
  EXPECT_EQ(user_tables(pg.url(a)), "0");
  EXPECT_EQ(query(pg.url(a), "CREATE TABLE t (v int)"), "");
  EXPECT_EQ(user_tables(pg.url(a)), "1");
  EXPECT_EQ(user_tables(pg.url(b)), "0") << "b sees a's table";
  pg.drop_database(a);
  EXPECT_EQ(query(pg.url(), "SELECT count(*) FROM pg_database WHERE datname = '" + a + "'"), "0");
}

TEST(PostgresFixture, StopAndStartKeepTheDataAndThePort) {
  PostgresServer pg;
  std::string db = pg.create_database();
  ASSERT_EQ(query(pg.url(db), "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')"), "");
  pid_t before = pg.pid();
  int port = pg.port();
  ASSERT_TRUE(process_runs(before));
  pg.stop();
  EXPECT_FALSE(pg.running());
  EXPECT_EQ(pg.pid(), -1);
  EXPECT_FALSE(process_runs(before)) << "the postmaster outlived stop()";
  EXPECT_EQ(query(pg.url(db), "SELECT 1").rfind("ERROR: connect", 0), 0u)
      << "a stopped server answered";
  pg.start();
  EXPECT_TRUE(pg.running());
  EXPECT_EQ(pg.port(), port);
  EXPECT_NE(pg.pid(), before);
  EXPECT_EQ(query(pg.url(db), "SELECT v FROM t"), "kept");
}

TEST(PostgresFixture, KillIsACrashAndStartRecoversTheCommittedData) {
  PostgresServer pg;
  std::string db = pg.create_database();
  ASSERT_EQ(query(pg.url(db), "CREATE TABLE t (v text); INSERT INTO t VALUES ('committed')"), "");
  pid_t before = pg.pid();
  pg.kill();
  EXPECT_FALSE(pg.running());
  EXPECT_FALSE(process_runs(before)) << "the postmaster outlived kill()";
  pg.start();
  EXPECT_EQ(query(pg.url(db), "SELECT v FROM t"), "committed");
  // A crash, not a shutdown: the server had to replay its WAL.
  EXPECT_NE(text_of(pg.dir() + "/log").find("automatic recovery in progress"), std::string::npos)
      << text_of(pg.dir() + "/log");
}

TEST(PostgresFixture, TheFolderAndProcessesAreGoneAfterwards) {
  std::string dir;
  pid_t pid;
  {
    PostgresServer pg;
    dir = pg.dir();
    pid = pg.pid();
    ASSERT_TRUE(process_runs(pid));
  }
  EXPECT_NE(::access(dir.c_str(), F_OK), 0) << dir << " is left";
  EXPECT_FALSE(process_runs(pid)) << "postmaster " << pid << " still runs";
}

TEST(PostgresFixture, AttachFindsTheServerAndLeavesItRunning) {
  PostgresServer pg;
  {
    auto attached = PostgresServer::attach(pg.dir());
    EXPECT_EQ(attached->port(), pg.port());
    EXPECT_EQ(attached->pid(), pg.pid());
    EXPECT_EQ(attached->url("x"), pg.url("x"));
  }
  EXPECT_TRUE(pg.running());
  EXPECT_EQ(query(pg.url(), "SELECT 1"), "1");
  pg.stop();
  EXPECT_THROW(PostgresServer::attach(pg.dir()), std::runtime_error)
      << "attached to a stopped server";
}

// Under ctest (HWCA_PG_TEST_PROPERTIES) the program's server is pg.start's; run by hand, one
// of its own.
TEST(PostgresShared, IsTheCtestFixtureServerWhenThereIsOne) {
  PostgresServer& pg = shared_postgres();
  EXPECT_EQ(&pg, &shared_postgres());
  EXPECT_TRUE(pg.running());
  const char* fixture = std::getenv("HWCA_TEST_PG_DIR");
  if (fixture != nullptr) {
    EXPECT_EQ(pg.socket_dir(), fixture);
    EXPECT_EQ(std::to_string(pg.port()) + "\n", text_of(std::string(fixture) + "/port"));
    std::ifstream pidfile(std::string(fixture) + "/data/postmaster.pid");
    pid_t postmaster = -1;
    pidfile >> postmaster;
    EXPECT_EQ(pg.pid(), postmaster);
  } else {
    EXPECT_EQ(pg.socket_dir().rfind("/tmp/hwca-pg-", 0), 0u) << pg.socket_dir();
  }
  EXPECT_EQ(query(pg.url(), "SHOW unix_socket_directories"), pg.socket_dir());
}

TEST(PostgresShared, FreshDatabasesAreNewAndEmpty) {
  std::string a = fresh_database_url(), b = fresh_database_url();
  EXPECT_NE(a, b);
  EXPECT_EQ(user_tables(a), "0");
  EXPECT_EQ(query(a, "CREATE TABLE t (v int)"), "");
  EXPECT_EQ(user_tables(b), "0") << "b sees a's table";
  EXPECT_EQ(query(b, "SELECT current_user"), "hwca");
}

// pg.start and pg.stop's program, on a folder of this test's (not the shared one).
class PostgresFixtureProgram : public ::testing::Test {
 protected:
  void SetUp() override { ::chmod(parent_.path().c_str(), 0711); }  // for the postgres user
  // hwca_pg_fixture COMMAND DIR, or COMMAND pg from DIR's parent with `relative`.
  int run(const std::string& command, std::string* out = nullptr, bool relative = false) {
    int status = -1;
    std::string where = relative ? "cd '" + parent_.path() + "' && " : "";
    std::string text = shell(
        where + HWCA_PG_FIXTURE_BIN + " " + command + " " + (relative ? std::string("pg") : dir_),
        &status);
    if (out != nullptr) *out = text;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  TempDir parent_{"hwca-pgfix"};
  std::string dir_ = parent_.file("pg");
};

TEST_F(PostgresFixtureProgram, StartReplacesAStaleServerAndStopRemovesIt) {
  std::string out;
  ASSERT_EQ(run("start", &out), 0) << out;
  pid_t stale = PostgresServer::attach(dir_)->pid();
  ASSERT_TRUE(process_runs(stale));
  // As if the run that started it had been aborted before pg.stop.
  ASSERT_EQ(run("start", &out), 0) << out;
  EXPECT_FALSE(process_runs(stale)) << "the stale server still runs";
  auto server = PostgresServer::attach(dir_);
  EXPECT_NE(server->pid(), stale);
  EXPECT_EQ(query(server->url(), "SELECT 1"), "1");
  pid_t current = server->pid();
  ASSERT_EQ(run("stop", &out), 0) << out;
  EXPECT_FALSE(process_runs(current));
  EXPECT_NE(::access(dir_.c_str(), F_OK), 0) << dir_ << " is left";
  EXPECT_EQ(run("stop", &out), 0) << "stopping nothing: " << out;
}

// postgres works in its data folder: a folder given relative to ours is made absolute.
TEST_F(PostgresFixtureProgram, TakesAFolderRelativeToTheCurrentOne) {
  std::string out;
  ASSERT_EQ(run("start", &out, /*relative=*/true), 0) << out;
  auto server = PostgresServer::attach(dir_);
  EXPECT_EQ(query(server->url(), "SELECT 1"), "1");
  EXPECT_EQ(run("stop", &out, /*relative=*/true), 0) << out;
  EXPECT_NE(::access(dir_.c_str(), F_OK), 0) << dir_ << " is left";
}

TEST_F(PostgresFixtureProgram, StopLeavesAFolderThatIsNotAServers) {
  ASSERT_EQ(::mkdir(dir_.c_str(), 0700), 0);
  std::ofstream(dir_ + "/precious") << "not a database\n";
  std::string out;
  EXPECT_EQ(run("stop", &out), 1) << out;
  EXPECT_EQ(run("start", &out), 1) << out;
  EXPECT_EQ(text_of(dir_ + "/precious"), "not a database\n");
}

}  // namespace
}  // namespace hwca::test
