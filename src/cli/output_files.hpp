// Checks made before signing, so that what is issued can be handed out: the file a
// certificate goes to, and its folder.
#pragma once

#include <string>

#include "common/result.hpp"

namespace hwca::cli {

// Refuse early what would make a certificate impossible to hand out after it was issued:
// the folder `path` goes in must exist and be writable (empty path: standard output, fine).
Status check_output_folder(const std::string& path);
// The same for a certificate's file, which must not exist yet unless `force` (conflict:
// "FILE exists; --force replaces it ...").
Status check_output_file(const std::string& path, bool force);

}  // namespace hwca::cli
