// The TPM device layer (tokens/tpm2: TCTI, ESYS context, SRK) against a real swtpm, checked
// with tpm2-tools, which share no code with hwca's layer above tpm2-tss: the SRK is the
// very key tpm2_createprimary derives from the TCG template, nothing stays loaded, and a
// TPM that cannot be reached is one clear error.
#include <gtest/gtest.h>
#include <tss2/tss2_mu.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "support/swtpm.hpp"
#include "tokens/tpm2/srk.hpp"
#include "tokens/tpm2/tcti.hpp"
#include "tokens/tpm2/tpm_context.hpp"

namespace hwca::test {
namespace {

using tokens::tpm2::load_srk;
using tokens::tpm2::matches_srk_template;
using tokens::tpm2::TctiChoice;
using tokens::tpm2::TpmContext;

// tpm2-tools' options for the SRK template (with -C o for tpm2_createprimary).
const std::string kSrkTemplate =
    "-g sha256 -G ecc256:aes128cfb "
    "-a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt'";

// Run a shell command; its stdout, or a failure naming the command.
std::string shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "popen: " << command;
    return out;
  }
  char buf[512];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int status = ::pclose(p);
  EXPECT_EQ(status, 0) << command << ":\n" << out;
  return out;
}

// Run tpm2-tools commands one after the other in the TPM's folder, pointed at its TCTI.
// Each tool leaves what it loaded in the TPM (no resource manager): flush as needed.
std::string tools(const Swtpm& tpm, std::initializer_list<std::string> commands) {
  std::string script = "cd '" + tpm.dir() + "' && export " + tpm.tools_env();
  for (const auto& c : commands) script += " && " + c;
  return shell(script);
}

std::vector<uint8_t> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<uint8_t> marshal(const TPM2B_PUBLIC& pub) {
  std::vector<uint8_t> out(sizeof(TPM2B_PUBLIC));
  size_t offset = 0;
  EXPECT_EQ(Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, out.data(), out.size(), &offset), TSS2_RC_SUCCESS);
  out.resize(offset);
  return out;
}

std::vector<uint8_t> name_bytes(const TPM2B_NAME& name) {
  return {name.name, name.name + name.size};
}

// The transient handles the TPM holds ("" when none). hwca's connection must be closed
// first: a swtpm serves one client at a time.
std::string transient_handles(const Swtpm& tpm) {
  TpmContext::close_all();
  return tools(tpm, {"tpm2_getcap handles-transient"});
}

std::shared_ptr<TpmContext> open_context(const Swtpm& tpm) {
  auto ctx = TpmContext::open({tpm.tcti(), "--tcti"});
  if (!ctx) throw std::runtime_error(ctx.error().message);
  return *ctx;
}

class TpmSrk : public ::testing::Test {
 protected:
  void TearDown() override { TpmContext::close_all(); }
  Swtpm tpm_;
};

TEST_F(TpmSrk, IsTheKeyTpm2ToolsDerivesFromTheTemplate) {
  std::vector<uint8_t> ours_public, ours_name;
  {
    auto srk = load_srk(open_context(tpm_));
    ASSERT_TRUE(srk) << srk.error().message;
    EXPECT_FALSE(srk->persistent());
    EXPECT_TRUE(matches_srk_template(srk->public_area().publicArea));
    EXPECT_EQ(srk->public_area().publicArea.unique.ecc.x.size, 32);
    ours_public = marshal(srk->public_area());
    ours_name = name_bytes(srk->name());
  }
  ASSERT_EQ(transient_handles(tpm_), "");

  tools(tpm_,
        {"tpm2_createprimary -C o " + kSrkTemplate + " -c srk.ctx >/dev/null",
         "tpm2_readpublic -c srk.ctx -o srk.pub -n srk.name >/dev/null", "tpm2_flushcontext -t"});
  std::string dir = tpm_.dir();
  EXPECT_EQ(ours_public, file_bytes(dir + "/srk.pub")) << "the public areas differ";
  EXPECT_EQ(ours_name, file_bytes(dir + "/srk.name")) << "the names differ";
  EXPECT_EQ(ours_name.size(), 34u);  // SHA-256 nameAlg + digest
}

TEST_F(TpmSrk, TenCreationsLeaveNothingLoaded) {
  auto ctx = open_context(tpm_);
  std::vector<uint8_t> first;
  for (int i = 0; i < 10; ++i) {
    auto srk = load_srk(ctx);
    ASSERT_TRUE(srk) << "creation " << i << ": " << srk.error().message;
    if (i == 0) first = name_bytes(srk->name());
    EXPECT_EQ(name_bytes(srk->name()), first) << "creation " << i << " made another key";
  }
  // A swtpm has three object slots: a leak would have failed the fourth creation
  // (TPM_RC_OBJECT_MEMORY); the TPM's own list must be empty too.
  ctx.reset();
  EXPECT_EQ(transient_handles(tpm_), "");
}

TEST_F(TpmSrk, ThreadsShareTheContextAndLeaveNothingLoaded) {
  auto ctx = open_context(tpm_);
  // Three threads: the swtpm holds at most three objects at once.
  std::vector<std::thread> threads;
  std::vector<std::string> errors(3);
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5 && errors[t].empty(); ++i) {
        auto srk = load_srk(ctx);
        if (!srk) errors[t] = srk.error().message;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  ctx.reset();
  EXPECT_EQ(transient_handles(tpm_), "");
}

TEST_F(TpmSrk, PersistentSrkIsUsedWhenItIsTheStandardOne) {
  tools(tpm_, {"tpm2_createprimary -C o " + kSrkTemplate + " -c srk.ctx >/dev/null",
               "tpm2_evictcontrol -C o -c srk.ctx 0x81000001 >/dev/null", "tpm2_flushcontext -t",
               "tpm2_readpublic -c 0x81000001 -n srk.name >/dev/null"});
  std::string dir = tpm_.dir();
  {
    auto srk = load_srk(open_context(tpm_));
    ASSERT_TRUE(srk) << srk.error().message;
    EXPECT_TRUE(srk->persistent());
    EXPECT_EQ(name_bytes(srk->name()), file_bytes(dir + "/srk.name"));
  }
  EXPECT_EQ(transient_handles(tpm_), "");
  EXPECT_NE(tools(tpm_, {"tpm2_getcap handles-persistent"}).find("0x81000001"), std::string::npos)
      << "the persistent SRK was evicted";
}

TEST_F(TpmSrk, AnotherObjectAtTheSrkHandleIsLeftAlone) {
  // The same template without noDA: a key made under it would not load elsewhere.
  tools(tpm_, {"tpm2_createprimary -C o -g sha256 -G ecc256:aes128cfb -a "
               "'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt' "
               "-c other.ctx >/dev/null",
               "tpm2_evictcontrol -C o -c other.ctx 0x81000001 >/dev/null", "tpm2_flushcontext -t",
               "tpm2_readpublic -c 0x81000001 -n other.name >/dev/null"});
  std::string dir = tpm_.dir();
  {
    auto srk = load_srk(open_context(tpm_));
    ASSERT_TRUE(srk) << srk.error().message;
    EXPECT_FALSE(srk->persistent());
    EXPECT_TRUE(matches_srk_template(srk->public_area().publicArea));
    EXPECT_NE(name_bytes(srk->name()), file_bytes(dir + "/other.name"));
  }
  EXPECT_EQ(transient_handles(tpm_), "");
  EXPECT_NE(tools(tpm_, {"tpm2_getcap handles-persistent"}).find("0x81000001"), std::string::npos);
}

TEST_F(TpmSrk, AChildKeyWithTheSrkTemplateAtTheSrkHandleIsLeftAlone) {
  // Same public template, but a random key under the SRK, not the SRK itself: only its
  // qualified name tells.
  tools(
      tpm_,
      {"tpm2_createprimary -C o " + kSrkTemplate + " -c srk.ctx >/dev/null", "tpm2_flushcontext -t",
       "tpm2_create -C srk.ctx " + kSrkTemplate + " -u c.pub -r c.priv >/dev/null",
       "tpm2_flushcontext -t", "tpm2_load -C srk.ctx -u c.pub -r c.priv -c c.ctx >/dev/null",
       "tpm2_evictcontrol -C o -c c.ctx 0x81000001 >/dev/null", "tpm2_flushcontext -t",
       "tpm2_readpublic -c 0x81000001 -n child.name >/dev/null"});
  std::string dir = tpm_.dir();
  {
    auto srk = load_srk(open_context(tpm_));
    ASSERT_TRUE(srk) << srk.error().message;
    EXPECT_FALSE(srk->persistent());
    EXPECT_NE(name_bytes(srk->name()), file_bytes(dir + "/child.name"));
  }
  EXPECT_EQ(transient_handles(tpm_), "");
}

TEST(TpmStartup, ATpmNobodyStartedIsStarted) {
  Swtpm tpm({.started = false});
  {
    auto srk = load_srk(open_context(tpm));
    ASSERT_TRUE(srk) << srk.error().message;
  }
  EXPECT_EQ(transient_handles(tpm), "");
}

// The error of opening `choice`, with what tpm2-tss printed meanwhile (nothing, wanted).
Error open_error(const TctiChoice& choice, std::string& printed) {
  TpmContext::close_all();
  ::testing::internal::CaptureStderr();
  auto ctx = TpmContext::open(choice);
  printed = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(ctx) << choice.tcti << " opened";
  return ctx ? Error{} : ctx.error();
}

TEST(TpmTcti, UnreachableTpmIsOneDeviceErrorNamingTheTcti) {
  std::string tcti;
  {
    Swtpm tpm;
    tcti = tpm.tcti();
    tpm.stop();  // its ports are closed now
  }
  ::setenv("HWCA_TCTI", tcti.c_str(), 1);
  std::string printed;
  Error e = open_error(tokens::tpm2::resolve_tcti(""), printed);
  ::unsetenv("HWCA_TCTI");
  EXPECT_EQ(e.kind, ErrorKind::device);
  EXPECT_EQ(e.message, "cannot reach the TPM through TCTI '" + tcti +
                           "' (from HWCA_TCTI): tcti:IO failure (0x000a000a)");
  EXPECT_EQ(printed, "") << "tpm2-tss logged to stderr";
}

TEST(TpmTcti, MissingDeviceIsOneDeviceErrorNamingIt) {
  std::string printed;
  Error e = open_error({"device:/nonexistent/tpmrm0", "--tcti"}, printed);
  EXPECT_EQ(e.kind, ErrorKind::device);
  EXPECT_NE(e.message.find("'device:/nonexistent/tpmrm0' (from --tcti)"), std::string::npos)
      << e.message;
  EXPECT_EQ(printed, "");
}

TEST(TpmTcti, MalformedHwcaTctiIsOneClearError) {
  struct Case {
    const char* tcti;
    ErrorKind kind;
    const char* text;
  } cases[] = {
      {"swtpm:host=127.0.0.1,port=notaport", ErrorKind::usage,
       "malformed TCTI 'swtpm:host=127.0.0.1,port=notaport' (from HWCA_TCTI): its configuration "
       "was refused: tcti:A parameter has a bad value (0x000a000b)"},
      {":port=2321", ErrorKind::usage, "malformed TCTI ':port=2321' (from HWCA_TCTI)"},
      {"swtpm:port=1\x1b[2J", ErrorKind::usage, "malformed TCTI 'swtpm:port=1\\x1b[2J'"},
      {"nosuchtcti:x", ErrorKind::not_found,
       "unknown TCTI 'nosuchtcti:x' (from HWCA_TCTI): tpm2-tss found no library for "
       "'nosuchtcti'"},
  };
  for (const auto& c : cases) {
    ::setenv("HWCA_TCTI", c.tcti, 1);
    std::string printed;
    Error e = open_error(tokens::tpm2::resolve_tcti(""), printed);
    EXPECT_EQ(e.kind, c.kind) << e.message;
    EXPECT_NE(e.message.find(c.text), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find('\n'), std::string::npos) << e.message;
    EXPECT_EQ(printed, "") << "tpm2-tss logged to stderr for " << c.tcti;
  }
  ::unsetenv("HWCA_TCTI");
}

}  // namespace
}  // namespace hwca::test
