// Unit tests for src/ca/audit_log.hpp: the hash chain holds across appends (also from
// several processes at once) and breaks, naming the line, when the file is altered.
#include "ca/audit_log.hpp"

#include <gtest/gtest.h>
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

}  // namespace
