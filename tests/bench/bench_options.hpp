// The benchmarks' command lines: for how long, how often and on how many threads (shared),
// and hwca_sign_bench's key types and paths.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_threads.hpp"
#include "tokens/keystore.hpp"

namespace hwca::bench {

enum class Path { raw, provider };
const char* path_name(Path p);

// What every benchmark run shares.
struct RunOptions {
  double seconds = 3.0;
  double warmup = 0.5;
  int rounds = 2;
  bool markdown = false;
  bool pin = true;  // see --no-pin
  bool help = false;
  std::vector<int> threads{1, 2};

  Window window() const { return {warmup, seconds, pin}; }
};

// hwca_sign_bench.
struct Options : RunOptions {
  std::vector<tokens::KeyType> types{tokens::KeyType::ec_p256, tokens::KeyType::rsa_3072};
  std::vector<Path> paths{Path::raw, Path::provider};
};

// The lines of the usage text for the shared options.
extern const char* const kRunOptionsUsage;

// Parse one shared option: false if `arg` is not one (then `value` was not called).
// `value()` takes the option's value. Throws std::invalid_argument naming a bad value.
bool parse_run_option(const std::string& arg, const std::function<std::string()>& value,
                      RunOptions& o);
// "1,2,4" -> {"1", "2", "4"}
std::vector<std::string> split_list(const std::string& s);
// A whole number from 1 to max, or std::invalid_argument naming `flag`.
int parse_count(const std::string& flag, const std::string& value, long max);
// Seconds: a number > 0, or >= 0 when zero is allowed.
double parse_seconds(const std::string& flag, const std::string& value, bool zero_ok);

// Calls `each(arg, value)` for every argument; `value()` takes the argument's value.
void for_each_arg(
    int argc, char** argv,
    const std::function<void(const std::string&, const std::function<std::string()>&)>& each);

void usage(std::FILE* out);
// Throws std::invalid_argument naming the bad argument.
Options parse_options(int argc, char** argv);

}  // namespace hwca::bench
