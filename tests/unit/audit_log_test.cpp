// Unit tests for src/ca/audit_log.hpp: the hash chain holds across appends (also from
// several processes at once) and breaks, naming the line, when the file is altered.
#include "ca/audit_log.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "support/temp_dir.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::AuditLog;

class AuditLogTest : public ::testing::Test {
 protected:
  hwca::test::TempDir dir_{"hwca-audit"};
  std::string path_ = dir_.file("audit.log");

  std::vector<std::string> lines() {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }
  void write_lines(const std::vector<std::string>& ls, bool final_newline = true) {
    std::ofstream out(path_, std::ios::trunc);
    for (size_t i = 0; i < ls.size(); ++i) {
      out << ls[i];
      if (i + 1 < ls.size() || final_newline) out << "\n";
    }
  }
  void append_three() {
    AuditLog log(path_);
    ASSERT_TRUE(log.append("ca.created", {{"ca", "root"}}));
    ASSERT_TRUE(log.append("cert.issued", {{"serial", "01ab"}, {"profile", "server"}}));
    ASSERT_TRUE(log.append("cert.revoked", {{"serial", "01ab"}}));
  }
};

TEST_F(AuditLogTest, ChainOfAppendsVerifiesAndHeadIsTheLastLinesHash) {
  append_three();
  auto s = AuditLog::verify(path_);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->lines, 3u);
  auto ls = lines();
  ASSERT_EQ(ls.size(), 3u);
  EXPECT_EQ(s->head, hwca::ca::sha256_hex(ls[2]));
  // Each line names the hash of the one before; the first names 64 zeros.
  EXPECT_NE(ls[0].find("\"prev\":\"" + std::string(64, '0') + "\""), std::string::npos);
  EXPECT_NE(ls[1].find("\"prev\":\"" + hwca::ca::sha256_hex(ls[0]) + "\""), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AuditLogTest, AnEditedLineBreaksTheChainAtTheNextLine) {
  append_three();
  auto ls = lines();
  auto pos = ls[1].find("01ab");
  ASSERT_NE(pos, std::string::npos);
  ls[1].replace(pos, 4, "01ac");
  write_lines(ls);
  auto s = AuditLog::verify(path_);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::conflict);
  EXPECT_NE(s.error().message.find("line 3"), std::string::npos) << s.error().message;
}

TEST_F(AuditLogTest, ARemovedOrMovedLineIsDetected) {
  append_three();
  auto ls = lines();
  write_lines({ls[0], ls[2]});
  auto removed = AuditLog::verify(path_);
  ASSERT_FALSE(removed);
  EXPECT_NE(removed.error().message.find("line 2"), std::string::npos);
  write_lines({ls[1], ls[0], ls[2]});
  EXPECT_FALSE(AuditLog::verify(path_));
}

TEST_F(AuditLogTest, ATornLastLineFailsVerificationAndTheNextAppendRepairsIt) {
  append_three();
  auto ls = lines();
  ls.push_back(R"({"data":{"serial":"02)");  // a write cut short by a crash
  write_lines(ls, /*final_newline=*/false);
  auto torn = AuditLog::verify(path_);
  ASSERT_FALSE(torn);
  EXPECT_NE(torn.error().message.find("incomplete"), std::string::npos);

  AuditLog log(path_);
  ASSERT_TRUE(log.append("cert.issued", {{"serial", "03"}}));
  auto s = AuditLog::verify(path_);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->lines, 5u);  // the three, the repair note, the new event
  auto after = lines();
  EXPECT_NE(after[3].find("audit.torn-line-removed"), std::string::npos);
}

// A disk that fills up under a write (here: RLIMIT_FSIZE, which cuts a write short at the
// limit as ENOSPC does on a full file system, then fails the next one) must not leave part of
// a line: the failed append takes back what it wrote, and `hwca audit verify` still passes
// (it used to report a torn line until the next append repaired it). The limit is set in a
// child process, which reports by its exit status.
TEST_F(AuditLogTest, AnAppendCutShortByAFullDiskLeavesNoPartOfALine) {
  append_three();
  struct stat before {};
  ASSERT_EQ(::stat(path_.c_str(), &before), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // a write past the limit then fails with EFBIG
    rlimit lim{static_cast<rlim_t>(before.st_size + 100),
               static_cast<rlim_t>(before.st_size + 100)};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(2);
    AuditLog log(path_);
    auto r = log.append_all({{"cert.issued", {{"serial", "04"}, {"pad", std::string(60, 'x')}}},
                             {"cert.issued", {{"serial", "05"}, {"pad", std::string(60, 'y')}}}});
    if (r) ::_exit(3);  // it cannot have succeeded
    if (r.error().kind != ErrorKind::io) ::_exit(4);
    if (r.error().message.find("cannot write audit log") == std::string::npos) ::_exit(5);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died";
  ASSERT_EQ(WEXITSTATUS(status), 0) << "the child's check " << WEXITSTATUS(status) << " failed";
  struct stat after {};
  ASSERT_EQ(::stat(path_.c_str(), &after), 0);
  EXPECT_EQ(after.st_size, before.st_size) << "the failed append left part of its lines";
  auto s = AuditLog::verify(path_);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->lines, 3u);
  // Space is back: the next append continues the chain, with nothing to repair.
  AuditLog log(path_);
  ASSERT_TRUE(log.append("cert.issued", {{"serial", "06"}}));
  auto again = AuditLog::verify(path_);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->lines, 4u);
  EXPECT_EQ(lines()[3].find("audit.torn-line-removed"), std::string::npos);
}

TEST_F(AuditLogTest, AppendsFromSeveralProcessesKeepOneChain) {
  constexpr int kChildren = 4, kEach = 25;
  for (int c = 0; c < kChildren; ++c) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      AuditLog log(path_);
      for (int i = 0; i < kEach; ++i) {
        if (!log.append("cert.issued", {{"child", c}, {"i", i}})) ::_exit(1);
      }
      ::_exit(0);
    }
  }
  for (int c = 0; c < kChildren; ++c) {
    int status = 0;
    ::wait(&status);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto s = AuditLog::verify(path_);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->lines, static_cast<size_t>(kChildren * kEach));
}

TEST_F(AuditLogTest, LinesLongerThanTheTailReadStillChain) {
  AuditLog log(path_);
  ASSERT_TRUE(log.append("cert.issued", {{"sans", std::string(10000, 'a')}}));
  ASSERT_TRUE(log.append("cert.issued", {{"sans", std::string(70000, 'b')}}));
  ASSERT_TRUE(log.append("cert.revoked", {{"serial", "04"}}));
  auto s = AuditLog::verify(path_);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->lines, 3u);
}

TEST_F(AuditLogTest, MissingLogIsNotFoundAndGarbageIsRefused) {
  auto missing = AuditLog::verify(path_);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  write_lines({"not json"});
  auto garbage = AuditLog::verify(path_);
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message.find("line 1"), std::string::npos);
}

// A log truncated, or replaced by another file, under a writer is not continued: the
// writer remembers its last line and refuses to append once the file no longer holds it,
// instead of starting the chain again at seq 1 (which verifies as a whole new chain).
TEST_F(AuditLogTest, ALogCutUnderAWriterIsNotContinued) {
  AuditLog log(path_);
  ASSERT_TRUE(log.append("ca.created", {{"ca", "root"}}));
  ASSERT_TRUE(log.append("cert.issued", {{"serial", "01"}}));
  // Another writer (another process) appends meanwhile: that is no cut.
  {
    AuditLog other(path_);
    ASSERT_TRUE(other.append("cert.issued", {{"serial", "02"}}));
  }
  ASSERT_TRUE(log.append("cert.issued", {{"serial", "03"}}));

  // Truncated to nothing.
  ASSERT_EQ(::truncate(path_.c_str(), 0), 0);
  auto after_truncate = log.append("cert.issued", {{"serial", "04"}});
  ASSERT_FALSE(after_truncate);
  EXPECT_EQ(after_truncate.error().kind, ErrorKind::conflict);
  EXPECT_EQ(after_truncate.error().source, hwca::ErrorSource::audit_log);
  EXPECT_NE(after_truncate.error().message.find("cut or replaced"), std::string::npos)
      << after_truncate.error().message;
  EXPECT_TRUE(lines().empty()) << "a new chain was started: " << lines().front();

  // Its tail cut (the first line kept), and then as long again as it was: not continued.
  ASSERT_TRUE(AuditLog(dir_.file("fresh.log")).append("ca.created", {{"ca", "fresh"}}));
  {
    AuditLog again(path_);
    ASSERT_TRUE(again.append("ca.created", {{"ca", "root"}}));
    ASSERT_TRUE(again.append("cert.issued", {{"serial", "05"}}));
    const auto ls = lines();
    write_lines({ls[0]});
    EXPECT_FALSE(again.append("cert.issued", {{"serial", "06"}}));
    write_lines({ls[0], R"({"padding":")" + std::string(ls[1].size() - 13, 'x') + R"("})"});
    EXPECT_FALSE(again.append("cert.issued", {{"serial", "06"}}));
  }

  // Replaced by another file (renamed over it), and removed.
  AuditLog writer(path_);
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  ASSERT_TRUE(writer.append("ca.created", {{"ca", "root"}}));
  ASSERT_EQ(::rename(dir_.file("fresh.log").c_str(), path_.c_str()), 0);
  EXPECT_FALSE(writer.append("cert.issued", {{"serial", "07"}}));
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  auto removed = writer.append("cert.issued", {{"serial", "07"}});
  ASSERT_FALSE(removed);
  EXPECT_NE(removed.error().message.find("removed"), std::string::npos) << removed.error().message;
  struct stat st {};
  EXPECT_NE(::stat(path_.c_str(), &st), 0) << "the removed log was created anew";
}

// anchor(): a writer that has not written yet also notices a cut after it anchored; with
// must_exist, a missing or empty log is refused at once and never started.
TEST_F(AuditLogTest, AChainThatMustExistIsNotStarted) {
  AuditLog missing(path_);
  auto refused = missing.anchor(/*must_exist=*/true);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::conflict);
  EXPECT_NE(refused.error().message.find("missing"), std::string::npos) << refused.error().message;
  EXPECT_FALSE(missing.append("ca.created", {{"ca", "root"}}));
  struct stat st {};
  EXPECT_NE(::stat(path_.c_str(), &st), 0) << "a new log was created";

  write_lines({}, /*final_newline=*/false);  // empty
  AuditLog empty(path_);
  auto empty_refused = empty.anchor(true);
  ASSERT_FALSE(empty_refused);
  EXPECT_NE(empty_refused.error().message.find("empty"), std::string::npos);
  EXPECT_FALSE(empty.append("ca.created", {{"ca", "root"}}));
  EXPECT_TRUE(lines().empty());

  // Without must_exist, an empty log starts a chain (a new home).
  AuditLog fresh(path_);
  ASSERT_TRUE(fresh.anchor(false));
  ASSERT_TRUE(fresh.append("ca.created", {{"ca", "root"}}));
  ASSERT_TRUE(fresh.append("cert.issued", {{"serial", "01"}}));

  // Anchored on a chain: continues it; cut before it wrote anything: refuses.
  AuditLog server(path_);
  ASSERT_TRUE(server.anchor(true));
  ASSERT_TRUE(server.append("est.rejected", {{"reason", "auth"}}));
  AuditLog idle(path_);
  ASSERT_TRUE(idle.anchor(true));
  ASSERT_EQ(::truncate(path_.c_str(), 0), 0);
  EXPECT_FALSE(idle.append("est.rejected", {{"reason", "auth"}}));
  EXPECT_TRUE(lines().empty());
  auto s = AuditLog::verify(path_);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->lines, 0u);
}

// verify names a chain that starts again (seq 1 after line 1).
TEST_F(AuditLogTest, AChainThatStartsAgainIsNamed) {
  append_three();
  const auto first = lines();
  { std::ofstream out(dir_.file("b.log")); }
  AuditLog b(dir_.file("b.log"));
  ASSERT_TRUE(b.append("ca.created", {{"ca", "other"}}));
  std::ifstream in(dir_.file("b.log"));
  std::string restart;
  std::getline(in, restart);
  write_lines({first[0], first[1], first[2], restart});
  auto s = AuditLog::verify(path_);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("line 4 starts the chain again"), std::string::npos)
      << s.error().message;
}

}  // namespace
