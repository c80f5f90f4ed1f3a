// What every hwca subcommand shares: how a failure is reported, who is asking.
#include "cli/context.hpp"

#include <unistd.h>

#include <cstdio>

#include "common/text.hpp"

namespace hwca::cli {

int report(const Error& error) {
  std::fprintf(stderr, "hwca: %s\n", printable(error.message).c_str());
  return static_cast<int>(error.kind);
}

std::string cli_requester() { return "cli:uid=" + std::to_string(::getuid()); }

}  // namespace hwca::cli
