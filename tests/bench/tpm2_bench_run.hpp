// One timed phase of hwca_tpm2_bench (a signing phase, or the making of one key) and the
// checks of what it produced.
#pragma once

#include <openssl/types.h>
#include <sys/types.h>

#include <span>
#include <string>
#include <vector>

#include "bench/tpm2_bench_paths.hpp"

namespace hwca::bench {

struct Tpm2Target {
  std::string tcti;
  pid_t tpm_pid = -1;  // the swtpm's: its CPU time is read from /proc
};

struct SignRun {
  double open_ms = 0;      // ESYS context, key file read and loaded (the session's making)
  double first_ms = 0;     // the first signature (OpenSSL's first fetches included)
  double rate = 0;         // signatures/s of the `n` timed ones after the first
  double host_cpu_us = 0;  // this process's CPU time per timed signature (all threads)
  double tpm_cpu_us = 0;   // the swtpm's
  size_t verified = 0;
  std::vector<std::string> failures;
};

// Open a session, sign once (cold), sign `n` times (timed), close it. Then the checks: the
// session's key equals `pub` (EVP_PKEY_eq), and the first two signatures and a few more (at
// most 8) verify with `pub` in OpenSSL's default provider and all differ (ECDSA's random
// nonce). A failure is listed, not thrown.
SignRun run_sign_phase(SignPath path, const Tpm2Target& target, const std::string& key_file,
                       EVP_PKEY* pub, std::span<const uint8_t> message, int n);

// For scale: `n` TPM2_GetRandom commands (8 bytes) through hwca's ESYS context, the
// cheapest round trip to the TPM: rate is commands/s, the CPU times are per command.
SignRun run_round_trips(const Tpm2Target& target, int n);

struct MakeRun {
  MadeKey made;
  std::string failure;  // empty: made, saved, and the file holds a key of the type asked
};

// Open an ESYS context, make one key into `file`, close it; then read the file back with
// hwca's key store (no TPM needed) and check the key's type.
MakeRun run_make(MakePath path, const Tpm2Target& target, tokens::KeyType type,
                 const std::string& file);

// The public key of a key file, as hwca's key store reads it (OpenSSL's default provider).
// Throws std::runtime_error.
ossl::Ptr<EVP_PKEY> file_public_key(const std::string& tcti, const std::string& file);

}  // namespace hwca::bench
