// hwca_tpm2_bench's results and their tables (plain text or Markdown, on stdout).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "bench/tpm2_bench_run.hpp"

namespace hwca::bench {

constexpr std::array<SignPath, 3> kSignPaths{SignPath::provider, SignPath::openssl,
                                             SignPath::signer};

struct KeyUnderTest {
  std::string label;  // "hwca's" or "tpm2-openssl's"
  std::string file;
  ossl::Ptr<EVP_PKEY> pub;
  std::array<std::vector<SignRun>, 3> runs;  // by SignPath: each phase of each round
};

constexpr std::array<MakePath, 3> kMakePaths{MakePath::hwca, MakePath::hwca_tpm, MakePath::openssl};

struct TypeRuns {
  tokens::KeyType type;
  std::array<std::vector<MadeKey>, 3> made;  // by MakePath
};

// Signing: per key file and path, the medians of the phases (rate, CPU times) with the
// rate against tpm2-openssl's (of the medians, and "paired": the median of the ratios of
// each round), the round trips of TPM2_GetRandom for scale; then the cold start.
void print_signing(const std::vector<KeyUnderTest>& keys, const std::vector<SignRun>& trips, int n,
                   bool markdown);
// Making keys: median, min and max per type and path; hwca's against tpm2-openssl's.
void print_making(const std::vector<TypeRuns>& types, int n, bool markdown);

}  // namespace hwca::bench
