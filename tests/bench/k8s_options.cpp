#include "bench/k8s_options.hpp"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "bench/bench_options.hpp"

namespace hwca::bench {

unsigned K8sOptions::thread_count() const {
  return threads != 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
}

void k8s_usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: hwca_k8s_bench [--workers N] [--rsa-workers N] [--control-planes N]\n"
      "                      [--leaf ec-p256,rsa-2048] [--rounds N] [--rsa-rounds N]\n"
      "                      [--reruns N] [--threads T] [--dir DIR] [--target S]\n"
      "                      [--markdown]\n"
      "  --workers N         worker nodes (default 1000); 3 control-plane nodes\n"
      "                      (--control-planes) make 12 certificates each, a worker 1\n"
      "  --rsa-workers N     worker nodes for an RSA leaf type (default: --workers)\n"
      "  --leaf LIST         leaf key types measured, in order (default ec-p256,rsa-2048);\n"
      "                      the CA keys are ec-p256 in the token whatever the leaves\n"
      "  --rounds N          timed runs of each path (hwca, baseline; alternating) for\n"
      "                      an EC leaf type (default 3)\n"
      "  --rsa-rounds N      the same for an RSA leaf type (default 1: RSA-2048 key\n"
      "                      generation makes one run take minutes on 2 cores)\n"
      "  --reruns N          timed runs of write_cluster_pki over the unchanged tree of\n"
      "                      the last round (default 3; 0: none)\n"
      "  --threads T         key-generation threads of hwca (PkiOptions::threads) and of\n"
      "                      the baseline (default: one a core)\n"
      "  --dir DIR           put the token, the CA home and the output folders in a new\n"
      "                      folder in DIR (default $TMPDIR, else /tmp)\n"
      "  --target S          the target in seconds the table compares with (default 5)\n"
      "  --markdown          print the tables as Markdown\n");
}

K8sOptions parse_k8s_options(int argc, char** argv) {
  K8sOptions o;
  const char* tmp = std::getenv("TMPDIR");
  o.dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  for_each_arg(argc, argv, [&](const std::string& arg, const std::function<std::string()>& value) {
    if (arg == "--workers") {
      o.workers = parse_count(arg, value(), 100000);
    } else if (arg == "--rsa-workers") {
      o.rsa_workers = parse_count(arg, value(), 100000);
    } else if (arg == "--control-planes") {
      o.control_planes = parse_count(arg, value(), 99);
    } else if (arg == "--rounds") {
      o.rounds = parse_count(arg, value(), 1000);
    } else if (arg == "--rsa-rounds") {
      o.rsa_rounds = parse_count(arg, value(), 1000);
    } else if (arg == "--reruns") {
      std::string v = value();
      o.reruns = v == "0" ? 0 : parse_count(arg, v, 1000);
    } else if (arg == "--threads") {
      o.threads = static_cast<unsigned>(parse_count(arg, value(), 256));
    } else if (arg == "--leaf") {
      o.leaves.clear();
      for (const auto& name : split_list(value())) {
        auto t = tokens::parse_key_type(name);
        if (!t) throw std::invalid_argument("--leaf: " + t.error().message);
        o.leaves.push_back(*t);
      }
      if (o.leaves.empty()) throw std::invalid_argument("--leaf must not be empty");
    } else if (arg == "--dir") {
      o.dir = value();
      if (o.dir.empty()) throw std::invalid_argument("--dir needs a folder");
    } else if (arg == "--target") {
      o.target_seconds = parse_seconds(arg, value(), false);
    } else if (arg == "--markdown") {
      o.markdown = true;
    } else if (arg == "--help" || arg == "-h") {
      o.help = true;
    } else {
      throw std::invalid_argument("unknown argument '" + arg + "'");
    }
  });
  return o;
}

}  // namespace hwca::bench
