// hwca_tpm2_bench's command line.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "tokens/keystore.hpp"

namespace hwca::bench {

struct Tpm2Options {
  int rounds = 7;        // signing phases of each path, interleaved
  int signatures = 500;  // timed signatures per phase (after the first, which is "cold")
  int keygens = 15;      // keys made per type and way, in turns
  std::vector<tokens::KeyType> keygen_types{tokens::KeyType::ec_p256, tokens::KeyType::rsa_2048};
  bool openssl_key = true;  // also sign with a key file made by tpm2-openssl
  bool commands = true;     // count the TPM commands of each operation (a traced child run)
  bool markdown = false;
  bool help = false;
  std::string dir;  // where the swtpm and the key files go ($TMPDIR, else /tmp)

  // Internal: the traced child run (tpm2_bench_commands.hpp) on this TPM and key file.
  std::string child_tcti, child_key;
};

void tpm2_usage(std::FILE* out);
// Throws std::invalid_argument naming the bad argument.
Tpm2Options parse_tpm2_options(int argc, char** argv);

}  // namespace hwca::bench
