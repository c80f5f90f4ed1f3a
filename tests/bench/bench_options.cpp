#include "bench/bench_options.hpp"

#include <cstdlib>
#include <stdexcept>

namespace hwca::bench {

const char* const kRunOptionsUsage =
    "  --seconds S   measured wall time of each run (default 3)\n"
    "  --warmup S    work before each measured run, not counted (default 0.5)\n"
    "  --rounds N    runs of each path per row, interleaved (default 2)\n"
    "  --threads     thread counts (default 1,2)\n"
    "  --markdown    print the table as Markdown\n"
    "  --no-pin      let the scheduler place the working threads; by default thread\n"
    "                i of every run is pinned to the i-th allowed CPU, so that both\n"
    "                paths run on the same CPUs (on a VM whose vCPUs differ in\n"
    "                speed, unpinned single-thread runs compare two different CPUs)\n";

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

double parse_seconds(const std::string& flag, const std::string& value, bool zero_ok) {
  char* end = nullptr;
  double v = std::strtod(value.c_str(), &end);
  if (end == value.c_str() || *end != '\0' || !(v > 0 || (zero_ok && v == 0)) || v > 3600) {
    throw std::invalid_argument(flag + " needs a number of seconds" +
                                (zero_ok ? " (0 or more)" : " above 0") + ", not '" + value + "'");
  }
  return v;
}

int parse_count(const std::string& flag, const std::string& value, long max) {
  char* end = nullptr;
  long v = std::strtol(value.c_str(), &end, 10);
  if (end == value.c_str() || *end != '\0' || v < 1 || v > max) {
    throw std::invalid_argument(flag + " needs a whole number from 1 to " + std::to_string(max) +
                                ", not '" + value + "'");
  }
  return static_cast<int>(v);
}

bool parse_run_option(const std::string& arg, const std::function<std::string()>& value,
                      RunOptions& o) {
  if (arg == "--seconds") {
    o.seconds = parse_seconds(arg, value(), false);
  } else if (arg == "--warmup") {
    o.warmup = parse_seconds(arg, value(), true);
  } else if (arg == "--rounds") {
    o.rounds = parse_count(arg, value(), 1000);
  } else if (arg == "--markdown") {
    o.markdown = true;
  } else if (arg == "--no-pin") {
    o.pin = false;
  } else if (arg == "--threads") {
    o.threads.clear();
    for (const auto& n : split_list(value())) o.threads.push_back(parse_count(arg, n, 64));
    if (o.threads.empty()) throw std::invalid_argument("--threads must not be empty");
  } else if (arg == "--help" || arg == "-h") {
    o.help = true;
  } else {
    return false;
  }
  return true;
}

void for_each_arg(
    int argc, char** argv,
    const std::function<void(const std::string&, const std::function<std::string()>&)>& each) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    each(arg, [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      return argv[++i];
    });
  }
}

const char* path_name(Path p) { return p == Path::raw ? "raw" : "provider"; }

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: hwca_sign_bench [--seconds S] [--warmup S] [--rounds N] [--markdown]\n"
               "                       [--types ec-p256,rsa-3072] [--threads 1,2]\n"
               "                       [--paths raw,provider] [--no-pin]\n"
               "%s"
               "  --types       key types to generate and measure\n"
               "  --paths       which paths to run (one path alone is for profiling)\n",
               kRunOptionsUsage);
}

Options parse_options(int argc, char** argv) {
  Options o;
  for_each_arg(argc, argv, [&](const std::string& arg, const std::function<std::string()>& value) {
    if (parse_run_option(arg, value, o)) return;
    if (arg == "--types") {
      o.types.clear();
      for (const auto& name : split_list(value())) {
        auto t = tokens::parse_key_type(name);
        if (!t) throw std::invalid_argument("--types: " + t.error().message);
        o.types.push_back(*t);
      }
    } else if (arg == "--paths") {
      o.paths.clear();
      for (const auto& p : split_list(value())) {
        if (p == "raw")
          o.paths.push_back(Path::raw);
        else if (p == "provider")
          o.paths.push_back(Path::provider);
        else
          throw std::invalid_argument("--paths: raw and/or provider, not '" + p + "'");
      }
    } else {
      throw std::invalid_argument("unknown argument '" + arg + "'");
    }
  });
  if (o.types.empty() || o.paths.empty()) {
    throw std::invalid_argument("--types and --paths must not be empty");
  }
  return o;
}

}  // namespace hwca::bench
