// hwca_issue_bench's command line.
#pragma once

#include <cstdio>
#include <string>

#include "bench/bench_options.hpp"

namespace hwca::bench {

struct IssueOptions : RunOptions {
  int batch = 64;         // certificates per issue_batch call (a row for 1 is added)
  int csrs = 1024;        // requests made before timing; each thread cycles through them
  std::string dir;        // where the token, the CA home and its database go ($TMPDIR, /tmp)
  bool breakdown = true;  // the extra, instrumented run (issue_breakdown.hpp)
  double breakdown_seconds = 2.0;
};

void issue_usage(std::FILE* out);
// Throws std::invalid_argument naming the bad argument.
IssueOptions parse_issue_options(int argc, char** argv);

}  // namespace hwca::bench
