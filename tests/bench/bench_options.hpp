// The benchmark's command line: which key types, thread counts and paths, and for how long.
#pragma once

#include <cstdio>
#include <vector>

#include "tokens/keystore.hpp"

namespace hwca::bench {

enum class Path { raw, provider };
const char* path_name(Path p);

struct Options {
  double seconds = 3.0;
  double warmup = 0.5;
  int rounds = 2;
  bool markdown = false;
  bool pin = true;  // see --no-pin
  bool help = false;
  std::vector<tokens::KeyType> types{tokens::KeyType::ec_p256, tokens::KeyType::rsa_3072};
  std::vector<int> threads{1, 2};
  std::vector<Path> paths{Path::raw, Path::provider};
};

void usage(std::FILE* out);
// Throws std::invalid_argument naming the bad argument.
Options parse_options(int argc, char** argv);

}  // namespace hwca::bench
