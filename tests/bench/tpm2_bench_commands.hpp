// The TPM commands each operation sends, counted from tpm2-tss's own trace: this program is
// run again as a child (--commands-child TCTI KEYFILE) with TSS2_LOG=all+NONE,tcti+debug and
// its standard error in a file. tcti-swtpm logs "Sending command with TPM_CC 0x..." for every
// command, whoever sends it (hwca or tpm2-openssl: both use tpm2-tss); the child writes a
// marker line before each step. Nothing is timed in the child: the trace is slow.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace hwca::bench {

struct StepCommands {
  std::string step;                             // "hwca provider: per signature"
  int divisor = 1;                              // the step did this many operations
  std::vector<std::pair<uint32_t, int>> codes;  // TPM_CC, times sent; in order of first use
  void add(uint32_t cc);
  int total() const;
};

// Run the child against this TPM and key file (which it only reads; the keys it makes go in
// the key file's folder) and count. The parent must hold no ESYS context meanwhile.
// Throws std::runtime_error (the child's failure, or no trace at all).
std::vector<StepCommands> count_commands(const std::string& tcti, const std::string& key_file);

void print_commands(const std::vector<StepCommands>& steps, bool markdown);

// The child: the steps, with markers on standard error. 0, or 1 after a "@@fail" line.
int commands_child(const std::string& tcti, const std::string& key_file);

}  // namespace hwca::bench
