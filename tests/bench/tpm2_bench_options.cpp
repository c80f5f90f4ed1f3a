#include "bench/tpm2_bench_options.hpp"

#include <stdexcept>

#include "bench/bench_options.hpp"

namespace hwca::bench {

void tpm2_usage(std::FILE* out) {
  std::fprintf(out,
               "usage: hwca_tpm2_bench [--rounds N] [--signatures N] [--keygens N]\n"
               "                       [--keygen-types ec-p256,rsa-2048] [--no-openssl-key]\n"
               "                       [--no-commands] [--dir DIR] [--markdown]\n"
               "  --rounds N        signing phases of each path, interleaved (default 7)\n"
               "  --signatures N    timed ec-p256 signatures per phase, after the first\n"
               "                    (default 500)\n"
               "  --keygens N       keys made per type and way, in turns (default 15)\n"
               "  --keygen-types    key types to make (default ec-p256,rsa-2048)\n"
               "  --no-openssl-key  sign only with the key file made by hwca, not also with\n"
               "                    one made by tpm2-openssl\n"
               "  --no-commands     skip counting the TPM commands of each operation (a\n"
               "                    child run with TSS2_LOG=tcti+debug)\n"
               "  --dir DIR         where the swtpm and the key files go ($TMPDIR, else /tmp)\n"
               "  --markdown        print the tables as Markdown\n");
}

Tpm2Options parse_tpm2_options(int argc, char** argv) {
  Tpm2Options o;
  for_each_arg(argc, argv, [&](const std::string& arg, const std::function<std::string()>& value) {
    if (arg == "--rounds") {
      o.rounds = parse_count(arg, value(), 1000);
    } else if (arg == "--signatures") {
      o.signatures = parse_count(arg, value(), 1000000);
    } else if (arg == "--keygens") {
      o.keygens = parse_count(arg, value(), 1000);
    } else if (arg == "--keygen-types") {
      o.keygen_types.clear();
      for (const auto& name : split_list(value())) {
        auto t = tokens::parse_key_type(name);
        if (!t) throw std::invalid_argument("--keygen-types: " + t.error().message);
        o.keygen_types.push_back(*t);
      }
    } else if (arg == "--no-openssl-key") {
      o.openssl_key = false;
    } else if (arg == "--no-commands") {
      o.commands = false;
    } else if (arg == "--dir") {
      o.dir = value();
    } else if (arg == "--markdown") {
      o.markdown = true;
    } else if (arg == "--help" || arg == "-h") {
      o.help = true;
    } else if (arg == "--commands-child") {  // internal, see tpm2_bench_commands.hpp
      o.child_tcti = value();
      o.child_key = value();
    } else {
      throw std::invalid_argument("unknown argument '" + arg + "'");
    }
  });
  return o;
}

}  // namespace hwca::bench
