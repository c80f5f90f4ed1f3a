// Files written whole or not at all.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "common/result.hpp"

namespace hwca {

// Write to a temporary file in the same folder, fsync, then rename over `path`, so a reader
// sees the old file or the new one and never a part. `mode` applies from creation (0600 for
// anything secret), not after.
Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode);

// The same, but link(2) the synced temporary file to `path` instead of renaming it, so an
// existing file (or one another writer puts there first) is never replaced: then
// ErrorKind::conflict and nothing changes.
Status write_new_file_atomic(const std::string& path, std::string_view data, mode_t mode);

// rename(2) `from` over `to` (same file system), then sync `to`'s folder so the rename
// survives a crash; on failure nothing moved and the error names `to`.
Status rename_synced(const std::string& from, const std::string& to);

// Write all of `data` to standard output with write(2), past the C++ stream (whose buffer
// would keep a copy of a secret: a bootstrap token, a kubeconfig's key).
Status write_stdout(std::string_view data);

Result<std::string> read_file(const std::string& path, size_t max_bytes = 16 << 20);

}  // namespace hwca
