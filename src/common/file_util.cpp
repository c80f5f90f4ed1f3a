#include "common/file_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "common/text.hpp"

namespace hwca {
namespace {

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Write `data` to a new temporary file beside `path` (mode `mode` from creation), sync and
// close it; its name.
Result<std::string> write_temp(const std::string& path, std::string_view data, mode_t mode) {
  std::random_device rd;
  std::string tmp = path + ".tmp." + std::to_string(rd());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return fail(ErrorKind::io, "cannot create " + tmp + ": " + error_text(errno));
  }
  auto abandon = [&](const char* what) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail(ErrorKind::io, std::string(what) + " " + path + ": " + error_text(err));
  };
  if (::fchmod(fd, mode) != 0) return abandon("cannot set the mode of");
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return abandon("cannot write");
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return abandon("cannot sync");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail(ErrorKind::io, "cannot close " + tmp + ": " + error_text(err));
  }
  return tmp;
}

void sync_dir_of(const std::string& path) {
  int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

Status rename_synced(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return fail(ErrorKind::io, "cannot replace " + to + ": " + error_text(errno));
  }
  sync_dir_of(to);
  return {};
}

Status write_stdout(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(STDOUT_FILENO, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(ErrorKind::io, "cannot write to standard output: " + error_text(errno));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  auto tmp = write_temp(path, data, mode);
  if (!tmp) return tl::unexpected(tmp.error());
  if (auto ok = rename_synced(*tmp, path); !ok) {
    ::unlink(tmp->c_str());
    return ok;
  }
  return {};
}

Status write_new_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  auto tmp = write_temp(path, data, mode);
  if (!tmp) return tl::unexpected(tmp.error());
  // link(2) fails with EEXIST, atomically, when anything is at `path` (a dangling link too).
  int rc = ::link(tmp->c_str(), path.c_str());
  int err = errno;
  ::unlink(tmp->c_str());
  sync_dir_of(path);
  if (rc != 0 && err == EEXIST) return fail(ErrorKind::conflict, path + " already exists");
  if (rc != 0) return fail(ErrorKind::io, "cannot create " + path + ": " + error_text(err));
  return {};
}

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return fail(err == ENOENT ? ErrorKind::not_found : ErrorKind::io,
                "cannot read " + path + ": " + error_text(err));
  }
  std::string out;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    out.append(buf, static_cast<size_t>(in.gcount()));
    if (out.size() > max_bytes) return fail(ErrorKind::usage, path + " is too large");
  }
  return out;
}

}  // namespace hwca
