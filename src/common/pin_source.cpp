#include "common/pin_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/text.hpp"

namespace hwca {
namespace {

constexpr size_t kMaxPinLength = 256;

// Remove one trailing "\n" or "\r\n".
void strip_newline(SecureString& pin) {
  if (pin.empty() || pin.view().back() != '\n') return;
  pin.pop_back();
  if (!pin.empty() && pin.view().back() == '\r') pin.pop_back();
}

}  // namespace

Result<SecureString> read_secret_file(const std::string& path, const std::string& what) {
  // O_NONBLOCK: a FIFO in place of the file must be refused below, not waited on.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    return fail(err == ENOENT ? ErrorKind::not_found : ErrorKind::io,
                "cannot open " + what + " " + path + ": " + error_text(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(ErrorKind::usage, what + " " + path + " is not a regular file");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(ErrorKind::auth, what + " " + path + " is accessible by group or others (mode " +
                                     mode + "); run: chmod 600 " + path);
  }
  SecureString pin;
  char buf[64];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      OPENSSL_cleanse(buf, sizeof buf);
      return fail(ErrorKind::io, "cannot read " + what + " " + path + ": " + error_text(err));
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) pin.push_back(buf[i]);
    if (pin.size() > kMaxPinLength + 2) break;
  }
  ::close(fd);
  OPENSSL_cleanse(buf, sizeof buf);
  strip_newline(pin);
  if (pin.size() > kMaxPinLength) return fail(ErrorKind::usage, what + " " + path + " is too long");
  if (pin.empty()) return fail(ErrorKind::auth, what + " " + path + " is empty");
  return pin;
}

namespace {

Result<SecureString> read_pin_file(const std::string& path) {
  return read_secret_file(path, "PIN file");
}

}  // namespace

Status check_pin_source_syntax(std::string_view spec) {
  if (spec.starts_with("env:") && spec.size() > 4) return {};
  if (spec.starts_with("file:") && spec.size() > 5) return {};
  // The value itself is not repeated: it may be a PIN typed where a source was expected.
  return fail(ErrorKind::usage,
              "bad PIN source: expected env:NAME or file:PATH (a PIN itself "
              "is never accepted on the command line)");
}

Result<SecureString> read_pin_source(std::string_view spec) {
  if (auto ok = check_pin_source_syntax(spec); !ok) return tl::unexpected(ok.error());
  if (spec.starts_with("env:")) {
    std::string name(spec.substr(4));
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return fail(ErrorKind::auth, "PIN source env:" + name + " names an unset variable");
    }
    if (*value == '\0') return fail(ErrorKind::auth, "PIN source env:" + name + " is empty");
    return SecureString(value);
  }
  return read_pin_file(std::string(spec.substr(5)));
}

Result<SecureString> prompt_pin(const std::string& prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return fail(ErrorKind::auth, prompt +
                                     " is needed and there is no terminal to ask on; "
                                     "give --pin-source env:NAME or file:PATH");
  }
  struct termios old {};
  bool restore = ::tcgetattr(fd, &old) == 0;
  if (restore) {
    struct termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  std::string text = prompt + ": ";
  [[maybe_unused]] ssize_t w = ::write(fd, text.data(), text.size());
  SecureString pin;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n' && pin.size() <= kMaxPinLength) pin.push_back(c);
  c = 0;
  if (restore) ::tcsetattr(fd, TCSAFLUSH, &old);
  w = ::write(fd, "\n", 1);
  ::close(fd);
  if (pin.empty()) return fail(ErrorKind::auth, "no PIN entered");
  return pin;
}

bool PinSources::any() const {
  for (const auto& spec : specs) {
    if (!spec.empty()) return true;
  }
  return static_cast<bool>(prompt);
}

Result<SecureString> obtain_pin(const PinSources& sources, const std::string& what) {
  if (sources.uri_has_pin_value) {
    return fail(ErrorKind::auth,
                "the key URI carries pin-value; hwca takes a PIN only from "
                "pin-source=, --pin-source or a prompt, never from a URI that "
                "may end up in argv or logs");
  }
  for (const auto& spec : sources.specs) {
    if (!spec.empty()) return read_pin_source(spec);
  }
  if (sources.prompt) return sources.prompt(what);
  return fail(ErrorKind::auth, what +
                                   " is needed: give --pin-source env:NAME or "
                                   "file:PATH, or pin-source= in the URI");
}

}  // namespace hwca
