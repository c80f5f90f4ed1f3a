// The benchmark's table: the medians of the runs of each key type and thread count.
#pragma once

#include <string>
#include <vector>

namespace hwca::bench {

struct Row {
  std::string key;
  int threads = 0;
  std::vector<double> raw, provider;          // signatures per second, one per run
  std::vector<double> raw_cpu, provider_cpu;  // CPU microseconds per signature, one per run
};

// Columns: the medians of each path and provider/raw of those; "paired", the median of
// provider/raw taken round by round (each provider run against the raw run just before it:
// robust when the machine changes speed during the benchmark); then the CPU time one
// signature costs on the signing threads and raw/provider of that, a reading of the ratio
// that other processes disturb less than wall time. Plain text or Markdown, on stdout.
void print_table(const std::vector<Row>& rows, bool markdown);

}  // namespace hwca::bench
