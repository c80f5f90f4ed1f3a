// TPM 2.0 keys: ec-p256 signatures per second through hwca's provider against tpm2-openssl
// on the same swtpm, the same key file, in the same process; and the time to make a key
// (ec-p256, rsa-2048) with each. See docs/performance.md, "TPM 2.0 keys".
//
//   hwca provider   hwca's CryptoContext (its own library context), load_private_key of
//                   tpm2:file=PATH, EVP_DigestSignInit_ex("SHA256") + EVP_DigestSign
//   tpm2-openssl    a fresh library context with the "tpm2" and "default" providers,
//                   OSSL_STORE_open_ex(PATH, "?provider=tpm2"), the same EVP calls
//   hwca Signer     tokens::open_store + create_signer: SHA-256 on the host, Signer::sign;
//                   no OpenSSL on the signing path (the provider's overhead, by difference)
//
// Each path keeps an ESYS context and its key loaded in the TPM from opening to closing
// (hwca: its context cached per TCTI; tpm2-openssl: from provider load to unload), and a
// swtpm serves one client at a time, so the phases are strictly one after the other: each
// opens (ESYS context, key file read and loaded), signs once ("cold") and N times (timed),
// and lets go of everything. Rounds interleave the paths (the order rotates). Key making
// alternates hwca and tpm2-openssl key by key. Medians are reported, with ratios to
// tpm2-openssl. After the timed runs, a child run of this program counts the TPM commands
// of each operation from tpm2-tss's trace (tpm2_bench_commands.hpp).
//
// Exit status: 0; 1 if a signature or key failed or did not verify; 2 for a usage or setup
// error. The ratios never fail the run.
#include <openssl/crypto.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_main.hpp"
#include "bench/tpm2_bench_commands.hpp"
#include "bench/tpm2_bench_options.hpp"
#include "bench/tpm2_bench_report.hpp"
#include "bench/tpm2_bench_run.hpp"
#include "support/swtpm.hpp"
#include "support/temp_dir.hpp"

namespace hwca::bench {
namespace {

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

int report(const std::string& what, const std::vector<std::string>& failures) {
  for (const auto& f : failures) std::fprintf(stderr, "FAIL: %s: %s\n", what.c_str(), f.c_str());
  return failures.empty() ? 0 : 1;
}

int run_bench(const Tpm2Options& opt) {
  if (!opt.child_tcti.empty()) return commands_child(opt.child_tcti, opt.child_key);

  const char* tmp = std::getenv("TMPDIR");
  test::TempDir work("hwca-tbench", !opt.dir.empty() ? opt.dir : tmp != nullptr ? tmp : "/tmp");
  test::SwtpmOptions swtpm_options;
  swtpm_options.parent = work.path();
  test::Swtpm tpm(swtpm_options);
  CloseTokensOnExit close_tokens;  // before the swtpm stops, however this ends
  const Tpm2Target target{tpm.tcti(), tpm.pid()};
  const std::string load_start = loadavg();
  std::fprintf(stderr, "%s; swtpm %s (pid %d); load average %s\n", OpenSSL_version(OPENSSL_VERSION),
               target.tcti.c_str(), static_cast<int>(tpm.pid()), load_start.c_str());

  // The key files signed with: one made by hwca, one by tpm2-openssl. Failing here is a
  // setup error.
  std::vector<KeyUnderTest> keys;
  keys.push_back({"hwca's", work.file("hwca-ec-p256.pem"), {}, {}});
  if (opt.openssl_key) keys.push_back({"tpm2-openssl's", work.file("openssl-ec-p256.pem"), {}, {}});
  for (size_t i = 0; i < keys.size(); ++i) {
    MakeRun made = run_make(i == 0 ? MakePath::hwca : MakePath::openssl, target,
                            tokens::KeyType::ec_p256, keys[i].file);
    if (!made.failure.empty())
      throw std::runtime_error("making " + keys[i].file + ": " + made.failure);
    keys[i].pub = file_public_key(target.tcti, keys[i].file);
  }

  const std::string text(256, 'x');
  std::span<const uint8_t> message(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  // A fresh TPM tests ECDSA on its first signature and asks for the command again
  // (TPM_RC_RETRY, which ESYS resends): that goes here, before anything is timed or counted.
  open_sign_session(SignPath::signer, target.tcti, keys[0].file)->sign(message);

  int status = 0;
  size_t verified = 0;
  std::vector<SignRun> round_trips;  // for scale: the cheapest TPM command
  for (auto& k : keys) {
    for (int round = 1; round <= opt.rounds; ++round) {
      for (size_t j = 0; j < kSignPaths.size(); ++j) {
        SignPath p = kSignPaths[(j + round - 1) % kSignPaths.size()];  // the order rotates
        SignRun r = run_sign_phase(p, target, k.file, k.pub.get(), message, opt.signatures);
        std::fprintf(stderr,
                     "%s key, round %d, %-13s open %6.1f ms, first %6.1f ms, %7.1f sig/s, "
                     "host %5.0f us/sig, swtpm %5.0f us/sig\n",
                     k.label.c_str(), round, sign_path_name(p), r.open_ms, r.first_ms, r.rate,
                     r.host_cpu_us, r.tpm_cpu_us);
        status |= report(k.label + " key, " + sign_path_name(p), r.failures);
        verified += r.verified;
        k.runs[static_cast<int>(p)].push_back(std::move(r));
      }
      if (&k == &keys.front()) {
        SignRun r = run_round_trips(target, opt.signatures);
        status |= report("TPM2_GetRandom", r.failures);
        round_trips.push_back(std::move(r));
      }
    }
  }

  std::vector<TypeRuns> types;
  size_t made = 0;
  for (tokens::KeyType type : opt.keygen_types) {
    TypeRuns t{type, {}};
    for (int i = 0; i < opt.keygens; ++i) {
      for (size_t j = 0; j < kMakePaths.size(); ++j) {
        MakePath p = kMakePaths[(i + j) % kMakePaths.size()];  // the order rotates
        std::string file =
            work.file("made-" + std::to_string(static_cast<int>(p)) + "-" +
                      tokens::key_type_name(type) + "-" + std::to_string(i) + ".pem");
        MakeRun r = run_make(p, target, type, file);
        std::fprintf(stderr, "%s %-22s %8.1f ms + %.1f ms\n", tokens::key_type_name(type),
                     make_path_name(p), r.made.make_ms, r.made.save_ms);
        if (!r.failure.empty()) {
          status |= report(make_path_name(p), {r.failure});
          continue;
        }
        ++made;
        t.made[static_cast<int>(p)].push_back(r.made);
      }
    }
    types.push_back(std::move(t));
  }

  std::vector<StepCommands> commands;
  if (opt.commands) {
    try {
      commands = count_commands(target.tcti, keys[0].file);
    } catch (const std::exception& e) {
      status |= report("TPM command count", {e.what()});
    }
  }

  std::fprintf(stderr,
               "checked: %zu signatures verified with the key files' public keys (default "
               "provider), each session's key equal to its file's; %zu keys made and read "
               "back%s\n",
               verified, made, status == 0 ? "" : " (FAILURES above)");
  std::printf("load average (1, 5, 15 min): %s at the start, %s at the end\n\n", load_start.c_str(),
              loadavg().c_str());
  print_signing(keys, round_trips, opt.signatures, opt.markdown);
  print_making(types, opt.keygens, opt.markdown);
  if (!commands.empty()) {
    std::printf("\nTPM commands sent (tpm2-tss trace of a child run; hwca's key file)\n");
    print_commands(commands, opt.markdown);
  }
  return status;
}

}  // namespace
}  // namespace hwca::bench

int main(int argc, char** argv) {
  using hwca::bench::Tpm2Options;
  return hwca::bench::bench_main<Tpm2Options>(
      "hwca_tpm2_bench", argc, argv, hwca::bench::parse_tpm2_options, hwca::bench::tpm2_usage,
      [](const Tpm2Options& opt) { return hwca::bench::run_bench(opt); });
}
