#include "k8s/output_tree.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <sstream>

#include "common/file_util.hpp"
#include "common/text.hpp"

namespace hwca::k8s {
namespace fs = std::filesystem;
namespace {

constexpr const char* kCommitRecord = "COMMIT";

Error io_error(const std::string& what, const std::string& path, int err) {
  return Error{ErrorKind::io, what + " " + path + ": " + error_text(err)};
}

Status sync_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return tl::unexpected(io_error("cannot open", path, errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return tl::unexpected(io_error("cannot sync", path, err));
  return {};
}

Status remove_all(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return fail(ErrorKind::io, "cannot remove " + path + ": " + ec.message());
  return {};
}

Status rename_path(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return tl::unexpected(io_error("cannot move " + from + " to", to, errno));
  }
  return {};
}

Status make_dirs(const std::string& path, mode_t mode) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return fail(ErrorKind::io, "cannot create " + path + ": " + ec.message());
  ::chmod(path.c_str(), mode);
  return {};
}

// Swap the staged tree of `node` in: DIR/<node> moves aside, the staged tree takes its place.
Status swap_in(const std::string& dir, const std::string& staging, const std::string& node) {
  const std::string live = dir + "/" + node, staged = staging + "/new/" + node;
  if (!fs::exists(staged)) return {};  // done before the interruption
  if (fs::exists(live)) {
    if (auto ok = make_dirs(staging + "/old", 0700); !ok) return ok;
    if (auto ok = rename_path(live, staging + "/old/" + node); !ok) return ok;
  }
  return rename_path(staged, live);
}

// An earlier run's staging: finish it when its COMMIT record is there, else discard it.
Status recover(const std::string& dir, const std::string& staging,
               std::vector<std::string>& notes) {
  if (!fs::exists(staging)) return {};
  auto record = read_file(staging + "/" + kCommitRecord);
  if (record) {
    std::istringstream in(*record);
    std::string node;
    size_t count = 0;
    while (std::getline(in, node)) {
      if (node.empty()) continue;
      if (node.find('/') != std::string::npos || node == "." || node == "..") {
        return fail(ErrorKind::conflict, staging + "/" + kCommitRecord + " is damaged; remove " +
                                             staging + " and run again");
      }
      if (auto ok = swap_in(dir, staging, node); !ok) return ok;
      ++count;
    }
    if (auto ok = sync_dir(dir); !ok) return ok;
    notes.push_back("finished an interrupted earlier run: " + std::to_string(count) +
                    " node trees put in place");
  } else {
    notes.push_back("discarded an interrupted earlier run (" + staging +
                    "): none of its files had been put in place");
  }
  return remove_all(staging);
}

// An unfinished run's staging goes; so does a folder this run made and filled with nothing
// (rmdir fails if anything else is in it).
void discard(const std::string& dir, bool created) {
  (void)remove_all(dir + "/.hwca-staging");
  if (created && ::unlink((dir + "/.hwca.lock").c_str()) == 0) ::rmdir(dir.c_str());
}

}  // namespace

Result<OutputTree> OutputTree::open(const std::string& dir, std::vector<std::string>& notes) {
  if (dir.empty()) return fail(ErrorKind::usage, "no output folder");
  std::error_code ec;
  bool created = false;
  if (!fs::exists(dir, ec)) {
    if (::mkdir(dir.c_str(), 0700) != 0) {
      return tl::unexpected(io_error("cannot create the output folder", dir, errno));
    }
    created = true;
  } else if (!fs::is_directory(dir, ec)) {
    return fail(ErrorKind::usage, dir + " is not a folder");
  }
  const std::string lock = dir + "/.hwca.lock";
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (created) ::rmdir(dir.c_str());
    return fail(ErrorKind::io,
                "cannot write to the output folder " + dir + ": " + error_text(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return fail(ErrorKind::conflict, "another hwca run is writing " + dir + "; wait for it");
  }
  OutputTree tree(dir, fd);
  tree.created_ = created;
  if (auto ok = recover(dir, tree.staging(), notes); !ok) return tl::unexpected(ok.error());
  // A probe: a folder we can lock in but not write to (read-only file system, immutable
  // attribute) fails here, before anything is signed.
  if (::mkdir(tree.staging().c_str(), 0700) != 0) {
    return tl::unexpected(io_error("cannot write to the output folder", dir, errno));
  }
  tree.undo_ = std::make_unique<ForcedExitUndo>([dir, created] { discard(dir, created); });
  return tree;
}

OutputTree::OutputTree(OutputTree&& other) noexcept
    : dir_(std::move(other.dir_)),
      lock_fd_(other.lock_fd_),
      staged_(std::move(other.staged_)),
      committed_(other.committed_),
      recorded_(other.recorded_),
      created_(other.created_),
      undo_(std::move(other.undo_)) {
  other.lock_fd_ = -1;
}

OutputTree::~OutputTree() {
  if (lock_fd_ < 0) return;
  undo_.reset();
  if (!committed_ && !recorded_) discard(dir_, created_);
  ::close(lock_fd_);
}

std::string OutputTree::node_path(const std::string& node, const std::string& rel) const {
  return dir_ + "/" + node + "/" + rel;
}

Status OutputTree::stage(const std::string& node) {
  if (staged_.count(node)) return {};
  const std::string live = dir_ + "/" + node, staged = staging() + "/new/" + node;
  if (auto ok = make_dirs(staging() + "/new", 0700); !ok) return ok;
  std::error_code ec;
  if (fs::exists(live, ec)) {
    fs::copy(live, staged, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) return fail(ErrorKind::io, "cannot copy " + live + ": " + ec.message());
  } else if (::mkdir(staged.c_str(), 0755) != 0) {
    return tl::unexpected(io_error("cannot create", staged, errno));
  }
  staged_.insert(node);
  return {};
}

Status OutputTree::write(const std::string& node, const std::string& rel, std::string_view data,
                         mode_t mode) {
  if (auto ok = stage(node); !ok) return ok;
  const std::string path = staging() + "/new/" + node + "/" + rel;
  if (auto ok = make_dirs(fs::path(path).parent_path().string(), 0755); !ok) return ok;
  // Written fresh (not over a copied file, whose mode might be wider); synced in commit().
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return tl::unexpected(io_error("cannot create", path, errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return tl::unexpected(io_error("cannot write", path, err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || ::close(fd) != 0) {
    return tl::unexpected(io_error("cannot write", path, errno));
  }
  return {};
}

Status OutputTree::commit() {
  const std::string stage_dir = staging();
  if (!staged_.empty()) {
    // One sync for every staged file, then the record that makes the run finishable.
    int fd = ::open(stage_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return tl::unexpected(io_error("cannot open", stage_dir, errno));
    int rc = ::syncfs(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return tl::unexpected(io_error("cannot sync", stage_dir, err));
    undo_.reset();  // from the COMMIT record on, the next run finishes an interrupted one
    std::string record;
    for (const auto& node : staged_) record += node + "\n";
    if (auto ok = write_file_atomic(stage_dir + "/" + kCommitRecord, record, 0600); !ok) {
      return ok;
    }
    recorded_ = true;  // from here on an interruption is finished by the next run
    for (const auto& node : staged_) {
      if (auto ok = swap_in(dir_, stage_dir, node); !ok) return ok;
    }
    if (auto ok = sync_dir(dir_); !ok) return ok;
  }
  committed_ = true;
  return remove_all(stage_dir);
}

}  // namespace hwca::k8s
