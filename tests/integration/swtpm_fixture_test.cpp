// The swtpm test fixture (tests/support/swtpm.hpp) itself: every TPM test trusts that the
// TPM at tcti() is the fixture's own. Checked with tpm2-tools only.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "support/swtpm.hpp"

namespace hwca::test {
namespace {

// stdout and stderr of a shell command, and its exit status.
std::string shell(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return "popen failed";
  char buf[512];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int rc = ::pclose(p);
  if (status != nullptr) *status = rc;
  return out;
}

// The RSA EK's public area as tpm2-tools prints it: different for every swtpm_setup.
std::string ek(const Swtpm& tpm) {
  int status = -1;
  std::string out = shell(tpm.tools_env() + "timeout 20 tpm2_readpublic -c 0x81010001", &status);
  EXPECT_EQ(status, 0) << out;
  return out;
}

std::string text_of(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TpmFixture, EachOneIsItsOwnTpmWithAnEkCertificate) {
  Swtpm a, b;
  EXPECT_NE(a.tcti(), b.tcti());
  EXPECT_NE(ek(a), ek(b));
  int status = -1;
  std::string out = shell(a.tools_env() + "tpm2_nvreadpublic 0x01c00002", &status);
  EXPECT_EQ(status, 0) << "no RSA EK certificate: " << out;
}

TEST(TpmFixture, ABusyPortIsNoticedAndAnotherPairTaken) {
  Swtpm a;
  // b is made to try a's ports first: its swtpm cannot bind them and exits.
  Swtpm b({.first_port = a.port()});
  EXPECT_NE(b.port(), a.port());
  EXPECT_NE(text_of(b.dir() + "/swtpm.log").find("Address already in use"), std::string::npos)
      << "the busy pair was not tried";
  EXPECT_NE(ek(a), ek(b)) << "b's tcti reaches a's TPM";
}

TEST(TpmFixture, StopClosesTheTpmAndStartServesTheSameState) {
  Swtpm tpm;
  std::string before = ek(tpm), tcti = tpm.tcti();
  pid_t pid = tpm.pid();
  tpm.stop();
  EXPECT_FALSE(tpm.running());
  EXPECT_NE(::kill(pid, 0), 0) << "swtpm still runs";
  int status = 0;
  shell("TPM2TOOLS_TCTI='" + tcti + "' timeout 20 tpm2_getcap handles-transient", &status);
  EXPECT_NE(status, 0) << "a stopped TPM answered";
  tpm.start();
  EXPECT_EQ(ek(tpm), before);
}

TEST(TpmFixture, TheFolderAndProcessAreGoneAfterwards) {
  std::string dir;
  pid_t pid;
  {
    Swtpm tpm;
    dir = tpm.dir();
    pid = tpm.pid();
  }
  EXPECT_NE(::access(dir.c_str(), F_OK), 0) << dir << " is left";
  EXPECT_NE(::kill(pid, 0), 0) << "swtpm " << pid << " still runs";
}

}  // namespace
}  // namespace hwca::test
