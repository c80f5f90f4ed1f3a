#include "bench/issue_options.hpp"

#include <cstdlib>
#include <stdexcept>

namespace hwca::bench {

void issue_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: hwca_issue_bench [--seconds S] [--warmup S] [--rounds N] [--threads 1,2]\n"
               "                        [--batch B] [--csrs M] [--dir DIR] [--markdown]\n"
               "                        [--no-pin] [--no-breakdown] [--breakdown-seconds S]\n"
               "%s"
               "  --batch B     certificates per Issuer::issue_batch call (default 64); a row\n"
               "                with B=1 (one transaction and audit write per certificate)\n"
               "                is always added\n"
               "  --csrs M      requests (ec-p256, CN and 2 DNS names) made before timing\n"
               "                (default 1024); the threads cycle through them\n"
               "  --dir DIR     put the token, the CA home and its database in a new folder\n"
               "                in DIR (default $TMPDIR, else /tmp); fsync costs what DIR's\n"
               "                file system makes it cost\n"
               "  --no-breakdown       skip the extra run that times each step of issuing\n"
               "  --breakdown-seconds  length of each run of that breakdown (default 2)\n",
               kRunOptionsUsage);
}

IssueOptions parse_issue_options(int argc, char** argv) {
  IssueOptions o;
  const char* tmp = std::getenv("TMPDIR");
  o.dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  for_each_arg(argc, argv, [&](const std::string& arg, const std::function<std::string()>& value) {
    if (parse_run_option(arg, value, o)) return;
    if (arg == "--batch") {
      o.batch = parse_count(arg, value(), 4096);
    } else if (arg == "--csrs") {
      o.csrs = parse_count(arg, value(), 1000000);
    } else if (arg == "--dir") {
      o.dir = value();
      if (o.dir.empty()) throw std::invalid_argument("--dir needs a folder");
    } else if (arg == "--no-breakdown") {
      o.breakdown = false;
    } else if (arg == "--breakdown-seconds") {
      o.breakdown_seconds = parse_seconds(arg, value(), false);
    } else {
      throw std::invalid_argument("unknown argument '" + arg + "'");
    }
  });
  return o;
}

}  // namespace hwca::bench
