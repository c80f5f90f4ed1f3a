// Checks made before signing: the certificate's file and its folder.
#include "cli/output_files.hpp"

#include <unistd.h>

#include <cerrno>

#include "common/text.hpp"

namespace hwca::cli {

Status check_output_folder(const std::string& path) {
  if (path.empty()) return {};
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (::access(dir.c_str(), W_OK) != 0) {
    return fail(errno == ENOENT ? ErrorKind::not_found : ErrorKind::io,
                "cannot write " + path + ": " + error_text(errno));
  }
  return {};
}

Status check_output_file(const std::string& path, bool force) {
  if (!path.empty() && !force && ::access(path.c_str(), F_OK) == 0) {
    return fail(ErrorKind::conflict, path +
                                         " exists; --force replaces it (the old certificate "
                                         "stays valid until revoked)");
  }
  return check_output_folder(path);
}

}  // namespace hwca::cli
