// Unit tests for tokens/tpm2/tcti.hpp: which TCTI is chosen (--tcti, then HWCA_TCTI, then
// the kernel's resource manager), which shapes are refused before tpm2-tss sees them, and
// what the messages say. Loading a TCTI is tested against swtpm (tpm_srk_test.cpp).
#include "tokens/tpm2/tcti.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace {

using hwca::ErrorKind;
using hwca::tokens::tpm2::check_tcti;
using hwca::tokens::tpm2::choose_tcti;
using hwca::tokens::tpm2::describe;
using hwca::tokens::tpm2::load_tcti;
using hwca::tokens::tpm2::resolve_tcti;
using hwca::tokens::tpm2::TctiChoice;

TEST(Tcti, OptionComesFirst) {
  auto c = choose_tcti("swtpm:port=2321", "device:/dev/tpm0");
  EXPECT_EQ(c.tcti, "swtpm:port=2321");
  EXPECT_EQ(c.source, "--tcti");
}

TEST(Tcti, EnvironmentWhenNoOption) {
  auto c = choose_tcti("", "device:/dev/tpm0");
  EXPECT_EQ(c.tcti, "device:/dev/tpm0");
  EXPECT_EQ(c.source, "HWCA_TCTI");
}

TEST(Tcti, KernelResourceManagerByDefault) {
  for (const char* env : {static_cast<const char*>(nullptr), ""}) {
    auto c = choose_tcti("", env);
    EXPECT_EQ(c.tcti, "device:/dev/tpmrm0");
    EXPECT_EQ(c.source, "default");
  }
}

TEST(Tcti, ResolveReadsHwcaTcti) {
  ::setenv("HWCA_TCTI", "swtpm:host=127.0.0.1,port=4000", 1);
  EXPECT_EQ(resolve_tcti("").tcti, "swtpm:host=127.0.0.1,port=4000");
  EXPECT_EQ(resolve_tcti("tabrmd").tcti, "tabrmd");
  ::unsetenv("HWCA_TCTI");
  EXPECT_EQ(resolve_tcti("").tcti, "device:/dev/tpmrm0");
}

TEST(Tcti, WellFormedNamesPass) {
  for (const char* t : {"device:/dev/tpmrm0", "device", "tabrmd:bus_type=session",
                        "swtpm:host=127.0.0.1,port=2321", "libtss2-tcti-device.so.0:/dev/tpm0",
                        "/usr/lib/x86_64-linux-gnu/libtss2-tcti-swtpm.so.0:port=1"}) {
    EXPECT_TRUE(check_tcti({t, "--tcti"})) << t;
  }
}

TEST(Tcti, MalformedOnesAreUsageErrorsNamingTheValueAndItsSource) {
  // An empty name would make tpm2-tss try every TCTI it knows: possibly another TPM.
  for (const char* t : {":port=2321", "", "swtpm port=1", "sw tpm", "swtpm:port=1\n", "a\x1b[2Jb",
                        "swtpm;rm:x", "sw$tpm"}) {
    auto ok = check_tcti({t, "HWCA_TCTI"});
    ASSERT_FALSE(ok) << t;
    EXPECT_EQ(ok.error().kind, ErrorKind::usage);
    EXPECT_NE(ok.error().message.find("(from HWCA_TCTI)"), std::string::npos) << ok.error().message;
    EXPECT_EQ(ok.error().message.find('\n'), std::string::npos);
    EXPECT_EQ(ok.error().message.find('\x1b'), std::string::npos);
  }
}

TEST(Tcti, LoadRefusesAMalformedOneBeforeTpm2Tss) {
  auto t = load_tcti({":x", "--tcti"});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().kind, ErrorKind::usage);
  EXPECT_NE(t.error().message.find("malformed TCTI ':x' (from --tcti)"), std::string::npos)
      << t.error().message;
}

TEST(Tcti, DescribeSaysHowToChooseAnotherForTheDefault) {
  EXPECT_EQ(describe({"device:/dev/tpmrm0", "default"}),
            "'device:/dev/tpmrm0' (the default; choose one with --tcti or HWCA_TCTI)");
  EXPECT_EQ(describe({"tabrmd", "HWCA_TCTI"}), "'tabrmd' (from HWCA_TCTI)");
}

}  // namespace
