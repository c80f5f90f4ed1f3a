// Unit tests for PIN sources (src/common/pin_source.hpp): env:NAME and file:PATH, the file
// permission rules, and that no error message ever carries the PIN.
#include "common/pin_source.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "support/temp_dir.hpp"

namespace {

using hwca::ErrorKind;
using hwca::read_pin_source;

class PinFile : public ::testing::Test {
 protected:
  hwca::test::TempDir tmp_{"hwca-pin-test"};
  std::string dir_ = tmp_.path();

  // Write `content` to dir/name with exactly `mode` (umask does not apply).
  std::string write(const std::string& name, const std::string& content, mode_t mode) {
    std::string path = dir_ + "/" + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0) << path;
    if (fd < 0) return path;
    EXPECT_EQ(::write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    EXPECT_EQ(::fchmod(fd, mode), 0);
    ::close(fd);
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, mode) << path;
    return path;
  }

  std::string read_ok(const std::string& path) {
    auto pin = read_pin_source("file:" + path);
    EXPECT_TRUE(pin.has_value()) << path << ": " << (pin ? "" : pin.error().message);
    return pin ? std::string(pin->view()) : std::string("<error>");
  }
};

TEST(PinSourceEnv, ReadsASetVariable) {
  ASSERT_EQ(::setenv("HWCA_UNIT_TEST_PIN", "12 34-abcd", 1), 0);
  auto pin = read_pin_source("env:HWCA_UNIT_TEST_PIN");
  ::unsetenv("HWCA_UNIT_TEST_PIN");
  ASSERT_TRUE(pin.has_value()) << pin.error().message;
  EXPECT_EQ(pin->view(), "12 34-abcd");
}

TEST(PinSourceEnv, UnsetVariableIsAnAuthError) {
  ::unsetenv("HWCA_UNIT_TEST_NO_SUCH_PIN");
  auto pin = read_pin_source("env:HWCA_UNIT_TEST_NO_SUCH_PIN");
  ASSERT_FALSE(pin.has_value());
  EXPECT_EQ(pin.error().kind, ErrorKind::auth);
  EXPECT_NE(pin.error().message.find("HWCA_UNIT_TEST_NO_SUCH_PIN"), std::string::npos)
      << pin.error().message;
}

TEST(PinSourceEnv, EmptyVariableIsAnAuthError) {
  ASSERT_EQ(::setenv("HWCA_UNIT_TEST_EMPTY_PIN", "", 1), 0);
  auto pin = read_pin_source("env:HWCA_UNIT_TEST_EMPTY_PIN");
  ::unsetenv("HWCA_UNIT_TEST_EMPTY_PIN");
  ASSERT_FALSE(pin.has_value());
  EXPECT_EQ(pin.error().kind, ErrorKind::auth);
}

TEST_F(PinFile, ReadsAPrivateFileAndStripsOneNewline) {
  EXPECT_EQ(read_ok(write("lf", "123456\n", 0600)), "123456");
  EXPECT_EQ(read_ok(write("crlf", "123456\r\n", 0600)), "123456");
  EXPECT_EQ(read_ok(write("none", "123456", 0600)), "123456");
  EXPECT_EQ(read_ok(write("two-lf", "123456\n\n", 0600)), "123456\n");
  EXPECT_EQ(read_ok(write("two-crlf", "123456\r\n\r\n", 0600)), "123456\r\n");
  EXPECT_EQ(read_ok(write("inner", " 12 34 \n", 0600)), " 12 34 ");
  EXPECT_EQ(read_ok(write("owner-ro", "abc\n", 0400)), "abc");
}

TEST_F(PinFile, GroupOrOtherAccessIsRefused) {
  for (mode_t mode : {0644, 0640, 0604, 0660, 0620, 0602, 0610, 0601, 0777}) {
    std::string name = "mode-" + std::to_string(mode);
    std::string path = write(name, "pin-Xy7\n", mode);
    auto pin = read_pin_source("file:" + path);
    ASSERT_FALSE(pin.has_value()) << std::oct << mode;
    EXPECT_EQ(pin.error().kind, ErrorKind::auth) << std::oct << mode;
    const std::string& msg = pin.error().message;
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("chmod 600"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("pin-Xy7"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("Xy7"), std::string::npos) << msg;
  }
}

TEST_F(PinFile, MissingFileIsNotFound) {
  auto pin = read_pin_source("file:" + dir_ + "/absent");
  ASSERT_FALSE(pin.has_value());
  EXPECT_EQ(pin.error().kind, ErrorKind::not_found);
  EXPECT_NE(pin.error().message.find(dir_ + "/absent"), std::string::npos);
}

TEST_F(PinFile, DirectoryIsRefused) {
  std::string sub = dir_ + "/sub";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  auto pin = read_pin_source("file:" + sub);
  ASSERT_FALSE(pin.has_value());
  EXPECT_NE(pin.error().message.find(sub), std::string::npos) << pin.error().message;
}

TEST_F(PinFile, EmptyFileIsRefused) {
  EXPECT_FALSE(read_pin_source("file:" + write("empty", "", 0600)).has_value());
  EXPECT_FALSE(read_pin_source("file:" + write("newline", "\n", 0600)).has_value());
  EXPECT_FALSE(read_pin_source("file:" + write("crlf", "\r\n", 0600)).has_value());
}

TEST_F(PinFile, SymlinkToAPrivateFileIsRefused) {
  std::string target = write("target", "pin-Xy7\n", 0600);
  std::string link = dir_ + "/link";
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  auto pin = read_pin_source("file:" + link);
  ASSERT_FALSE(pin.has_value());
  EXPECT_EQ(pin.error().message.find("Xy7"), std::string::npos) << pin.error().message;
  EXPECT_EQ(read_ok(target), "pin-Xy7");  // the target itself is fine
}

TEST_F(PinFile, OverlongPinIsRefusedWithoutShowingIt) {
  std::string long_pin(400, 'Q');
  auto pin = read_pin_source("file:" + write("long", long_pin + "\n", 0600));
  ASSERT_FALSE(pin.has_value());
  EXPECT_EQ(pin.error().message.find("QQQQ"), std::string::npos) << pin.error().message;
}

TEST(PinSourceSyntax, RefusesMalformedSpecs) {
  for (const char* spec :
       {"", "env:", "file:", "prompt", "pass:x", "env", "file", "fd:3", "/etc/pin"}) {
    auto ok = hwca::check_pin_source_syntax(spec);
    ASSERT_FALSE(ok.has_value()) << "accepted: '" << spec << "'";
    EXPECT_EQ(ok.error().kind, ErrorKind::usage) << spec;
    auto pin = read_pin_source(spec);
    ASSERT_FALSE(pin.has_value()) << spec;
    EXPECT_EQ(pin.error().kind, ErrorKind::usage) << spec;
  }
}

// "pass:PIN" is OpenSSL's -passin syntax, so a user may well type it; hwca refuses it, but
// the error must not repeat the PIN (Error::message "never contains a PIN").
TEST(PinSourceSyntax, RefusalDoesNotEchoAPassPin) {
  auto ok = hwca::check_pin_source_syntax("pass:pin-Xy7");
  ASSERT_FALSE(ok.has_value());
  EXPECT_EQ(ok.error().message.find("Xy7"), std::string::npos) << ok.error().message;
  auto pin = read_pin_source("pass:pin-Xy7");
  ASSERT_FALSE(pin.has_value());
  EXPECT_EQ(pin.error().message.find("Xy7"), std::string::npos) << pin.error().message;
}

TEST(PinSourceSyntax, AcceptsEnvAndFileSpecs) {
  EXPECT_TRUE(hwca::check_pin_source_syntax("env:HWCA_PIN").has_value());
  EXPECT_TRUE(hwca::check_pin_source_syntax("file:/etc/hwca/pin").has_value());
  EXPECT_TRUE(hwca::check_pin_source_syntax("file:relative/pin").has_value());
}

}  // namespace
