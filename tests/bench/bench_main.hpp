// What the benchmarks' main() functions share: the command line, the exit status for a
// usage or setup error, and closing hwca's token sessions before the token folder goes.
#pragma once

#include <cstdio>
#include <exception>
#include <functional>

#include "tokens/registry.hpp"

namespace hwca::bench {

// Declare one right after the SoftHsmToken: on every way out (exceptions included) hwca's
// sessions are closed and its modules finalised before the token's folder is removed.
struct CloseTokensOnExit {
  CloseTokensOnExit() = default;
  CloseTokensOnExit(const CloseTokensOnExit&) = delete;
  CloseTokensOnExit& operator=(const CloseTokensOnExit&) = delete;
  ~CloseTokensOnExit() { tokens::shutdown_all(); }
};

// Parses the options (a bad argument prints the usage and gives 2; --help prints it and
// gives 0), then returns what `run` returns; an exception from it is a setup error (2).
template <typename Options>
int bench_main(const char* name, int argc, char** argv, Options (*parse)(int, char**),
               void (*usage)(std::FILE*), const std::function<int(const Options&)>& run) {
  Options opt;
  try {
    opt = parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    usage(stderr);
    return 2;
  }
  if (opt.help) {
    usage(stdout);
    return 0;
  }
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 2;
  }
}

}  // namespace hwca::bench
