// The benchmarks' table: the medians of the runs of each row (key type, or issuance batch
// size, and thread count).
#pragma once

#include <string>
#include <vector>

namespace hwca::bench {

struct Row {
  std::string key;
  int threads = 0;
  std::vector<double> raw, provider;          // signatures (units) per second, one per run
  std::vector<double> raw_cpu, provider_cpu;  // CPU microseconds per signature (unit), one per run
};

// The column titles that name what is compared with raw C_Sign.
struct Headings {
  std::string key = "key";                  // the first column
  std::string rate = "provider sig/s";      // the compared path's rate
  std::string cpu = "provider cpu us/sig";  // its CPU time per unit
};

// Columns: the medians of each path and provider/raw of those (the "provider" of
// hwca_sign_bench, the issued certificates of hwca_issue_bench); "paired", the median of
// provider/raw taken round by round (each provider run against the raw run just before it:
// robust when the machine changes speed during the benchmark); then the CPU time one
// signature costs on the signing threads and raw/provider of that, a reading of the ratio
// that other processes disturb less than wall time. Plain text or Markdown, on stdout.
void print_table(const std::vector<Row>& rows, bool markdown, const Headings& headings = {});

// A table whose first row is the heading, columns aligned (or Markdown, numbers right
// aligned), on stdout.
void print_cells(const std::vector<std::vector<std::string>>& table, bool markdown);
// The median of `v` (0 when empty).
double median(std::vector<double> v);
// `v` with `decimals` digits after the point.
std::string fmt(int decimals, double v);

}  // namespace hwca::bench
