// Unit tests for src/ca/home.hpp: config.yaml is parsed strictly, written atomically with
// mode 0600, and the home is found by --home, HWCA_HOME or the default.
#include "ca/home.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "support/temp_dir.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::Config;
using hwca::ca::parse_config;

const char* kGood = R"(
database: issuance.db
auditLog: audit.log
cas:
  root:
    key: "pkcs11:token=ca;object=root"
    cert: cas/root/cert.pem
  k8s-ca:
    key: "pkcs11:token=ca;object=k8s"
    cert: cas/k8s-ca/cert.pem
    parent: root
)";

TEST(Config, ParsesCasAndFiles) {
  auto c = parse_config(kGood, "config.yaml");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->cas.size(), 2u);
  EXPECT_EQ(c->cas.at("root").key, "pkcs11:token=ca;object=root");
  EXPECT_EQ(c->cas.at("root").parent, "");
  EXPECT_EQ(c->cas.at("k8s-ca").parent, "root");
  EXPECT_EQ(c->database, "issuance.db");
}

TEST(Config, EmitThenParseGivesTheSameConfig) {
  auto c = parse_config(kGood, "config.yaml");
  ASSERT_TRUE(c);
  auto again = parse_config(hwca::ca::emit_config(*c), "emitted");
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_EQ(again->cas.size(), 2u);
  EXPECT_EQ(again->cas.at("k8s-ca").key, c->cas.at("k8s-ca").key);
  EXPECT_EQ(again->cas.at("k8s-ca").parent, "root");
  EXPECT_EQ(again->audit_log, c->audit_log);
}

void expect_refused(const std::string& yaml, const std::string& needle) {
  auto c = parse_config(yaml, "config.yaml");
  ASSERT_FALSE(c) << yaml;
  EXPECT_EQ(c.error().kind, ErrorKind::usage);
  EXPECT_NE(c.error().message.find(needle), std::string::npos) << c.error().message;
  EXPECT_EQ(c.error().message.find('\n'), std::string::npos);
}

// renewalKeyChange: per CA, false unless it says true; kept through emit and parse.
TEST(Config, RenewalKeyChangeIsPerCaAndOffByDefault) {
  auto c = parse_config(std::string(kGood) +
                            "  sub:\n    key: \"pkcs11:object=s\"\n"
                            "    cert: cas/sub/cert.pem\n"
                            "    renewalKeyChange: true\n",
                        "config.yaml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->cas.at("root").renewal_key_change);
  EXPECT_TRUE(c->cas.at("sub").renewal_key_change);
  auto again = parse_config(hwca::ca::emit_config(*c), "emitted");
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_FALSE(again->cas.at("root").renewal_key_change);
  EXPECT_TRUE(again->cas.at("sub").renewal_key_change);
  EXPECT_EQ(hwca::ca::emit_config(*again).find("renewalKeyChange: false"), std::string::npos);
  expect_refused("cas:\n  a:\n    key: pkcs11:object=a\n    cert: a\n    renewalKeyChange: yes\n",
                 "CA 'a': renewalKeyChange must be true or false");
}

TEST(Config, BadConfigsAreRefusedWithTheCause) {
  expect_refused("colour: red\n", "unknown key 'colour'");
  expect_refused("cas:\n  Root:\n    key: pkcs11:object=a\n    cert: a.pem\n", "CA name");
  expect_refused("cas:\n  a:\n    key: pkcs11:object=a\n", "needs key and cert");
  expect_refused("cas:\n  a:\n    key: nourischeme\n    cert: a.pem\n", "key:");
  expect_refused("cas:\n  a:\n    key: pkcs11:object=a?pin-value=1234\n    cert: a.pem\n",
                 "pin-value");
  expect_refused("cas:\n  a:\n    key: pkcs11:object=a\n    cert: ../../etc/x\n",
                 "inside the home");
  expect_refused("cas:\n  a:\n    key: pkcs11:object=a\n    cert: a.pem\n    parent: b\n",
                 "parent 'b'");
  expect_refused(
      "cas:\n  a:\n    key: pkcs11:object=a\n    cert: a.pem\n    parent: b\n"
      "  b:\n    key: pkcs11:object=b\n    cert: b.pem\n    parent: a\n",
      "own ancestor");
  expect_refused("cas:\n  a:\n    key: pkcs11:object=a\n    cert: a.pem\n    colour: red\n",
                 "unknown field 'colour'");
  expect_refused("cas: [\n", "line");
  expect_refused("database: /etc/passwd\n", "inside the home");
  // Found by the profile_yaml fuzz target: a name with a carriage return lost one each time
  // the file was written back.
  expect_refused("database: \"iss\\r\\rued.db\\r\"\n", "without control characters");
  expect_refused("auditLog: \"a\\tb.log\"\n", "without control characters");
  expect_refused("cas:\n  a:\n    key: pkcs11:object=a\n    cert: \"a\\x7f.pem\"\n",
                 "without control characters");
  // Found by the same target: a second `profiles:` (empty) dropped the first one's profiles
  // from the parsed config but not from what was written back. A key twice is refused.
  expect_refused("profiles:\n  web:\n    base: server\nprofiles:\n", "'profiles' appears twice");
  expect_refused(
      "cas:\n  a:\n    key: pkcs11:object=a\n    cert: a.pem\n"
      "  a:\n    key: pkcs11:object=b\n    cert: b.pem\n",
      "cas: 'a' appears twice");
  expect_refused("cas:\n  a:\n    key: pkcs11:object=a\n    cert: a.pem\n    cert: b.pem\n",
                 "'cert' appears twice");
  expect_refused("profiles:\n  web:\n    base: server\n    days: 30\n    days: 90\n",
                 "'days' appears twice");
  // Found by the same target: a byte that is not UTF-8 was written back as an escape, which
  // read again as another character (the file changed under each write-back).
  expect_refused("profiles:\n  pee:\n    base: server\n    description: c\xb6 t\r #i#c \n",
                 "config.yaml line 4: not UTF-8 text (a byte b6)");
  // Found by the same target: yaml-cpp read a NUL as a lone 0xa0 byte, which was written back
  // as text that is not UTF-8. YAML allows no control character but tab and line breaks.
  expect_refused(std::string("#b\nauditLog: aud\0_obtbl\n", 24),
                 "config.yaml line 2: a character YAML does not allow (00)");
  expect_refused("profiles:\n  web:\n    description: a\x7f\n", "line 3: a character YAML");
  expect_refused("profiles:\n  web:\n    description: a\xc2\x9b\n", "allow (c29b)");
  expect_refused("profiles:\n  web:\n    description: \xef\xbf\xbe\n", "allow (efbfbe)");
  // Found by the same target: yaml-cpp kept a lone carriage return in a plain scalar, and the
  // text written back read differently. Lines end in LF or CR LF (both read as before).
  expect_refused("profiles:\n  peg:\n    base: client\n    description: tey pclU\r\rp\r",
                 "config.yaml line 4: a carriage return without a line feed");
  expect_refused("database: a.db\r", "line 1: a carriage return without a line feed");
  auto crlf = parse_config("profiles:\r\n  web:\r\n    base: server\r\n    days: 30\r\n", "c");
  ASSERT_TRUE(crlf) << crlf.error().message;
  EXPECT_EQ(crlf->profiles.count("web"), 1u);
}

TEST(Config, APinValueNeverAppearsInTheError) {
  auto c = parse_config("cas:\n  a:\n    key: pkcs11:object=a?pin-value=s3cret\n    cert: a\n",
                        "config.yaml");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message.find("s3cret"), std::string::npos) << c.error().message;
}

TEST(Config, CaNames) {
  EXPECT_TRUE(hwca::ca::valid_ca_name("etcd-ca"));
  EXPECT_TRUE(hwca::ca::valid_ca_name("k8s2"));
  EXPECT_FALSE(hwca::ca::valid_ca_name(""));
  EXPECT_FALSE(hwca::ca::valid_ca_name("-a"));
  EXPECT_FALSE(hwca::ca::valid_ca_name("a/b"));
  EXPECT_FALSE(hwca::ca::valid_ca_name(std::string(65, 'a')));
}

class HomeTest : public ::testing::Test {
 protected:
  hwca::test::TempDir tmp_{"hwca-home"};
  std::string parent_ = tmp_.path();
};

TEST_F(HomeTest, CreatedPrivateAndReopened) {
  std::string dir = parent_ + "/home";
  auto missing = hwca::ca::Home::open(dir, false);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);

  auto h = hwca::ca::Home::open(dir, true);
  ASSERT_TRUE(h) << h.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat((dir + "/config.yaml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto c = parse_config(kGood, "x");
  ASSERT_TRUE(c);
  ASSERT_TRUE(h->save(*c));
  auto reopened = hwca::ca::Home::open(dir, false);
  ASSERT_TRUE(reopened) << reopened.error().message;
  EXPECT_EQ(reopened->config().cas.size(), 2u);

  Config bad = *c;
  bad.cas["x"] = {"pkcs11:object=x", "x.pem", "nosuch"};
  EXPECT_FALSE(h->save(bad));  // refused before anything is written
  auto still = hwca::ca::Home::open(dir, false);
  ASSERT_TRUE(still);
  EXPECT_EQ(still->config().cas.count("x"), 0u);
}

TEST_F(HomeTest, ABrokenConfigNamesItsFile) {
  std::string dir = parent_ + "/home";
  ASSERT_TRUE(hwca::ca::Home::open(dir, true));
  std::ofstream(dir + "/config.yaml") << "cas: {a: 1}\n";
  auto h = hwca::ca::Home::open(dir, false);
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message.find(dir + "/config.yaml"), std::string::npos);
}

TEST(HomeResolve, OptionThenEnvironmentThenDefault) {
  ::setenv("HWCA_HOME", "/from/env", 1);
  EXPECT_EQ(hwca::ca::resolve_home("/from/option"), "/from/option");
  EXPECT_EQ(hwca::ca::resolve_home(""), "/from/env");
  ::unsetenv("HWCA_HOME");
  EXPECT_EQ(hwca::ca::resolve_home(""), hwca::ca::default_home());
}

}  // namespace
