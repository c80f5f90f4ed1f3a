#include "ca/audit_log.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <sstream>

#include "common/text.hpp"

namespace hwca::ca {
namespace {

const std::string kGenesis(64, '0');

// Every failure of the audit log says so (ErrorSource::audit_log), whatever its kind.
tl::unexpected<Error> log_fail(ErrorKind kind, std::string message) {
  return tl::unexpected<Error>(Error{kind, std::move(message), ErrorSource::audit_log});
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Closes a descriptor (and so drops its flock) when it goes out of scope.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Result<std::string> read_all(int fd, const std::string& path) {
  std::string out;
  char buf[65536];
  off_t offset = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return log_fail(ErrorKind::io, "cannot read " + path + ": " + error_text(errno));
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    offset += n;
  }
}

struct Tail {
  size_t lines = 0;
  std::string head = kGenesis;
  size_t complete_bytes = 0;  // bytes up to and including the last '\n'
  size_t last_length = 0;     // of the last complete line, its '\n' excluded
};

// Walk and check the whole chain of `text`.
Result<Tail> walk(const std::string& text, const std::string& path,
                  const AuditLog::Visitor& visit) {
  Tail t;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    size_t number = t.lines + 1;
    std::string where = path + " line " + std::to_string(number);
    if (end == std::string::npos) {
      return log_fail(ErrorKind::conflict, where +
                                               " is incomplete (a write torn by a crash); "
                                               "the next append removes it");
    }
    std::string_view line(text.data() + pos, end - pos);
    auto j = check_chain_line(line, number, t.head, where);
    if (!j) return tl::unexpected(j.error());
    t.head = sha256_hex(line);
    t.lines = number;
    if (visit) visit(*j);
    pos = end + 1;
    t.complete_bytes = pos;
  }
  return t;
}

// The end of the chain without reading the whole file: the last complete line's sequence
// number and hash, and the size of a torn tail after it. Reads backwards in growing chunks.
Result<Tail> read_tail(int fd, const std::string& path, size_t* torn) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return log_fail(ErrorKind::io, "cannot stat " + path);
  const size_t size = static_cast<size_t>(st.st_size);
  Tail t;
  *torn = 0;
  for (size_t chunk = 4096;; chunk *= 4) {
    size_t len = std::min(chunk, size);
    std::string buf(len, '\0');
    size_t got = 0;
    while (got < len) {
      ssize_t n = ::pread(fd, buf.data() + got, len - got, static_cast<off_t>(size - len + got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return log_fail(ErrorKind::io, "cannot read " + path + ": " + error_text(errno));
      got += static_cast<size_t>(n);
    }
    size_t last_nl = buf.rfind('\n');
    if (last_nl == std::string::npos && len < size) continue;  // need more
    *torn = last_nl == std::string::npos ? len : len - last_nl - 1;
    t.complete_bytes = size - *torn;
    if (t.complete_bytes == 0) return t;  // nothing complete yet: the genesis
    size_t start = last_nl == 0 ? std::string::npos : buf.rfind('\n', last_nl - 1);
    if (start == std::string::npos && len < size) continue;  // the line starts further back
    start = start == std::string::npos ? 0 : start + 1;
    std::string_view line(buf.data() + start, last_nl - start);
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("seq") ||
        !j["seq"].is_number_unsigned()) {
      return log_fail(ErrorKind::conflict, "the last line of audit log " + path +
                                               " is damaged; run 'hwca audit verify'");
    }
    t.lines = j["seq"].get<size_t>();
    t.head = sha256_hex(line);
    t.last_length = line.size();
    return t;
  }
}

}  // namespace

std::string sha256_hex(std::string_view text) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr);
  return hex_text(md, len);
}

const std::string& chain_genesis() { return kGenesis; }

std::string chain_line(size_t seq, const std::string& prev, const std::string& event,
                       const nlohmann::json& data) {
  nlohmann::json j = {
      {"seq", seq}, {"time", utc_now()}, {"event", event}, {"prev", prev}, {"data", data}};
  return j.dump();  // keys sorted, no whitespace: one canonical line
}

Result<nlohmann::json> check_chain_line(std::string_view line, size_t number,
                                        const std::string& prev, const std::string& where) {
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return log_fail(ErrorKind::conflict, where + " is not a JSON object: the log was altered");
  }
  if (number > 1 && j.contains("seq") && j["seq"].is_number_unsigned() &&
      j["seq"].get<size_t>() == 1) {
    return log_fail(ErrorKind::conflict, where +
                                             " starts the chain again (seq 1): the log was cut "
                                             "or replaced and a new chain written after it");
  }
  if (!j.contains("seq") || !j["seq"].is_number_unsigned() || j["seq"].get<size_t>() != number) {
    return log_fail(ErrorKind::conflict, where +
                                             " has the wrong sequence number: a line was "
                                             "removed, added or moved");
  }
  if (!j.contains("prev") || !j["prev"].is_string() || j["prev"].get<std::string>() != prev) {
    return log_fail(ErrorKind::conflict, where +
                                             " does not carry the hash of the line before "
                                             "it: the log was altered");
  }
  if (!j.contains("event") || !j["event"].is_string()) {
    return log_fail(ErrorKind::conflict, where + " names no event");
  }
  return j;
}

namespace {

Result<int> open_locked(const std::string& path, bool create, int lock) {
  const int flags = O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0);
  int fd = ::open(path.c_str(), flags, 0600);
  if (fd < 0) {
    return log_fail(errno == ENOENT ? ErrorKind::not_found : ErrorKind::io,
                    "cannot open audit log " + path + ": " + error_text(errno));
  }
  while (::flock(fd, lock) != 0) {
    if (errno != EINTR) {
      int err = errno;
      ::close(fd);
      return log_fail(ErrorKind::io, "cannot lock audit log " + path + ": " + error_text(err));
    }
  }
  return fd;
}

}  // namespace

Status AuditLog::check_known(int fd) const {
  if (!known_) return {};
  const Known& k = *known_;
  auto cut = [&](const std::string& how) {
    return log_fail(ErrorKind::conflict,
                    "audit log " + path_ + " " + how + " line " + std::to_string(k.seq) +
                        " that this process wrote or found there: it was cut or replaced "
                        "while hwca ran, and hwca will not continue it or start a new chain; "
                        "run 'hwca audit verify' and restore the log from a backup");
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return log_fail(ErrorKind::io, "cannot stat audit log " + path_ + ": " + error_text(errno));
  }
  if (static_cast<size_t>(st.st_size) < k.end) return cut("no longer holds");
  std::string line(k.length + 1, '\0');
  const off_t from = static_cast<off_t>(k.end - k.length - 1);
  size_t got = 0;
  while (got < line.size()) {
    ssize_t n = ::pread(fd, line.data() + got, line.size() - got, from + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return log_fail(ErrorKind::io, "cannot read audit log " + path_);
    got += static_cast<size_t>(n);
  }
  if (line.back() != '\n' || sha256_hex(std::string_view(line).substr(0, k.length)) != k.hash) {
    return cut("no longer holds");
  }
  return {};
}

Status AuditLog::anchor(bool must_exist) {
  std::lock_guard guard(mu_);
  must_exist_ = must_exist_ || must_exist;
  auto fd = open_locked(path_, /*create=*/false, LOCK_SH);
  if (!fd && fd.error().kind == ErrorKind::not_found) {
    if (!must_exist_) return {};
    return log_fail(ErrorKind::conflict, "audit log " + path_ +
                                             " is missing, and a new chain must not start where "
                                             "one should continue; restore it from a backup");
  }
  if (!fd) return tl::unexpected(fd.error());
  Fd f{*fd};
  if (auto ok = check_known(f.fd); !ok) return ok;
  size_t torn = 0;
  auto tail = read_tail(f.fd, path_, &torn);
  if (!tail) return tl::unexpected(tail.error());
  if (tail->lines == 0) {
    if (!must_exist_) return {};
    return log_fail(ErrorKind::conflict, "audit log " + path_ +
                                             " is empty, and a new chain must not start where "
                                             "one should continue; restore it from a backup");
  }
  known_ = Known{tail->complete_bytes, tail->last_length, tail->lines, tail->head};
  return {};
}

Result<std::string> AuditLog::write_events(const std::vector<Event>& events) {
  std::lock_guard guard(mu_);
  // A log that must exist (or held a line we know) is never created anew.
  auto fd = open_locked(path_, /*create=*/!known_ && !must_exist_, LOCK_EX);
  if (!fd) {
    if (fd.error().kind != ErrorKind::not_found) return tl::unexpected(fd.error());
    return log_fail(ErrorKind::conflict,
                    "audit log " + path_ +
                        " was removed while hwca ran; hwca will not start a new chain where one "
                        "should continue: run 'hwca audit verify' and restore it from a backup");
  }
  Fd f{*fd};
  if (auto ok = check_known(f.fd); !ok) return tl::unexpected(ok.error());
  size_t torn = 0;
  auto tail = read_tail(f.fd, path_, &torn);
  if (!tail) return tl::unexpected(tail.error());
  if (tail->lines == 0 && must_exist_) {
    return log_fail(ErrorKind::conflict, "audit log " + path_ +
                                             " is empty, and a new chain must not start where "
                                             "one should continue; restore it from a backup");
  }

  std::string lines;
  size_t last_length = 0;
  auto add = [&](const std::string& ev, const nlohmann::json& d) {
    std::string line = chain_line(tail->lines + 1, tail->head, ev, d);
    tail->head = sha256_hex(line);
    tail->lines += 1;
    last_length = line.size();
    lines += line + "\n";
  };
  if (torn > 0) {
    // A line torn by a crash was never confirmed: drop it, and say so in the chain.
    if (::ftruncate(f.fd, static_cast<off_t>(tail->complete_bytes)) != 0) {
      return log_fail(ErrorKind::io, "cannot repair audit log " + path_ + ": " + error_text(errno));
    }
    add("audit.torn-line-removed", {{"bytes", torn}});
  }
  for (const auto& e : events) add(e.event, e.data);
  // A write or sync that fails (a full disk) takes back what it wrote: no torn line is left
  // for `hwca audit verify` to find, and the events are not in the log.
  auto failed = [&](const char* what, int err) {
    (void)::ftruncate(f.fd, static_cast<off_t>(tail->complete_bytes));
    return log_fail(ErrorKind::io,
                    std::string("cannot ") + what + " audit log " + path_ + ": " + error_text(err));
  };
  size_t done = 0;
  while (done < lines.size()) {
    ssize_t n = ::write(f.fd, lines.data() + done, lines.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed("write", errno);
    done += static_cast<size_t>(n);
  }
  if (::fsync(f.fd) != 0) return failed("sync", errno);
  if (!lines.empty()) {
    known_ = Known{tail->complete_bytes + lines.size(), last_length, tail->lines, tail->head};
  }
  return tail->head;
}

Status AuditLog::reserve(const std::vector<Event>& events) {
  std::lock_guard guard(mu_);
  auto fd = open_locked(path_, /*create=*/!known_ && !must_exist_, LOCK_EX);
  if (!fd) return tl::unexpected(fd.error());
  Fd f{*fd};
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    return log_fail(ErrorKind::io, "cannot stat audit log " + path_ + ": " + error_text(errno));
  }
  // seq, time, prev (64) and the keys around each event: 200 bytes are more than enough.
  off_t bytes = 0;
  for (const auto& e : events)
    bytes += static_cast<off_t>(e.data.dump().size() + e.event.size() + 200);
  if (::fallocate(f.fd, FALLOC_FL_KEEP_SIZE, st.st_size, bytes) != 0 && errno != EOPNOTSUPP &&
      errno != ENOSYS) {
    return log_fail(ErrorKind::io, "cannot write audit log " + path_ + ": " + error_text(errno));
  }
  return {};
}

Result<AuditLog::Summary> AuditLog::verify(const std::string& path, const Visitor& visit) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    return log_fail(errno == ENOENT ? ErrorKind::not_found : ErrorKind::io,
                    "cannot open audit log " + path + ": " + error_text(errno));
  }
  ::flock(f.fd, LOCK_SH);  // a consistent view while appends go on
  auto text = read_all(f.fd, path);
  if (!text) return tl::unexpected(text.error());
  auto tail = walk(*text, path, visit);
  if (!tail) return tl::unexpected(tail.error());
  return Summary{tail->lines, tail->head};
}

}  // namespace hwca::ca
