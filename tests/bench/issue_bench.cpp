// Certificates issued per second by hwca's Issuer against raw C_Sign on the same SoftHSM2
// key in the same process, so that the ratio survives a noisy machine.
//
//   raw     each thread: its own session (RawPkcs11), C_SignInit + C_Sign over a fixed
//           SHA-256 digest with the CA's ec-p256 key (bench_run.hpp, as hwca_sign_bench).
//   issue   one Issuer (a root CA made with init_ca in a new home) shared by all threads;
//           each thread calls issue_batch with its own batches of B pre-made requests. A
//           certificate counts once issue_batch returned it: recorded in the issuance
//           database (one transaction per batch, synced) and audited (one synced write per
//           batch). B is --batch (default 64); a row with B=1 is always added.
//
// Runs alternate (raw, then issue at each batch size) for each thread count. The token, the
// home and its database live in one new folder (--dir, default $TMPDIR or /tmp) whose file
// system is printed: a sync costs what it makes it cost. After the runs: a sample of the
// certificates is checked against the CA certificate and their requests, the store must
// hold exactly the certificates issued plus the CA's, and the audit chain must verify with
// one cert.issued line per certificate. Then, unless --no-breakdown, one more run per batch
// size with each step of issuing timed (issue_breakdown.hpp).
//
// Exit status: 0; 1 if an issue or a check failed; 2 for a usage or setup error. The ratio
// never fails the run. See docs/performance.md.
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_main.hpp"
#include "bench/bench_report.hpp"
#include "bench/bench_run.hpp"
#include "bench/issue_breakdown.hpp"
#include "bench/issue_checks.hpp"
#include "bench/issue_options.hpp"
#include "bench/issue_run.hpp"
#include "bench/issue_setup.hpp"
#include "support/temp_dir.hpp"

namespace hwca::bench {
namespace {

using test::RawPkcs11;
using test::SoftHsmToken;
using test::TempDir;

int report_failures(const std::string& what, const std::vector<std::string>& failures) {
  for (const auto& f : failures) std::fprintf(stderr, "FAIL: %s: %s\n", what.c_str(), f.c_str());
  return failures.empty() ? 0 : 1;
}

int run_bench(const IssueOptions& opt, const TempDir& work, const SoftHsmToken& token) {
  int status = 0;
  std::unique_ptr<BenchCa> ca = make_ca(token, work.file("home"));

  // The baseline client, logged in once, and the CA key's public half as it reads it.
  RawPkcs11 raw(token.module());
  CK_SLOT_ID slot = raw.slot_by_label(token.label());
  CK_SESSION_HANDLE main_session = raw.open_session(slot);
  raw.login(main_session, token.pin());
  ca->key.public_key = read_public_key(raw, main_session, ca->key);
  if (spki_der(ca->key.public_key.get()) != spki_der(X509_get0_pubkey(ca->issuer->ca_cert()))) {
    std::fprintf(stderr, "FAIL: the CA certificate does not carry the token key\n");
    status = 1;
  }

  auto t0 = std::chrono::steady_clock::now();
  const std::vector<Csr> csrs = make_csrs(opt.csrs);
  double csr_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr,
               "%s; %u hardware threads; %.1f s per run after %.1f s warm-up, %d round(s); "
               "threads %s\nwork folder %s on %s\n%d requests made in %.2f s (default "
               "provider)\n",
               OpenSSL_version(OPENSSL_VERSION), std::thread::hardware_concurrency(), opt.seconds,
               opt.warmup, opt.rounds, opt.pin ? "pinned" : "not pinned", work.path().c_str(),
               describe_filesystem(work.path()).c_str(), opt.csrs, csr_seconds);

  const Input in = make_input();
  Bench bench{opt, in, raw, slot, nullptr};
  std::vector<int> batches{opt.batch};
  if (opt.batch != 1) batches.push_back(1);
  std::vector<Row> rows;
  std::vector<IssueSample> samples;
  uint64_t issued = 0;
  size_t raw_verified = 0;
  for (int nthreads : opt.threads) {
    size_t first = rows.size();
    for (int b : batches) {
      Row row;
      row.key = "ec-p256 B=" + std::to_string(b);
      row.threads = nthreads;
      rows.push_back(std::move(row));
    }
    for (int round = 1; round <= opt.rounds; ++round) {
      RunResult r = bench.run(ca->key, nthreads, Path::raw);
      raw_verified += r.verified;
      std::fprintf(stderr,
                   "threads=%d round %d raw      %8.0f sig/s   %7.1f us cpu/sig   %4.2f cores"
                   "  (%llu in %.2f s; on cpu %s)\n",
                   nthreads, round, r.rate, r.cpu_us, r.cpu_busy,
                   static_cast<unsigned long long>(r.units), r.seconds, r.cpus.c_str());
      status |= report_failures("raw", r.failures);
      for (size_t i = 0; i < batches.size(); ++i) {
        IssueRunResult q =
            run_issue(opt.window(), bench.cpus, *ca->issuer, csrs, nthreads, batches[i]);
        issued += q.made;
        Row& row = rows[first + i];
        row.raw.push_back(r.rate);
        row.raw_cpu.push_back(r.cpu_us);
        row.provider.push_back(q.rate);
        row.provider_cpu.push_back(q.cpu_us);
        std::fprintf(stderr,
                     "threads=%d round %d B=%-5d  %8.0f certs/s %7.1f us cpu/cert  %4.2f cores"
                     "  (%llu in %.2f s; %llu issued; on cpu %s)\n",
                     nthreads, round, batches[i], q.rate, q.cpu_us, q.cpu_busy,
                     static_cast<unsigned long long>(q.units), q.seconds,
                     static_cast<unsigned long long>(q.made), q.cpus.c_str());
        status |= report_failures("issue", q.failures);
        for (auto& s : q.samples) samples.push_back(std::move(s));
      }
    }
  }
  raw.close_session(main_session);

  std::vector<Breakdown> breakdown;
  if (opt.breakdown) {
    Window window{std::min(opt.warmup, 0.2), opt.breakdown_seconds, opt.pin};
    for (int b : batches) {
      breakdown.push_back(run_breakdown(window, bench.cpus, *ca, csrs, b, &issued));
      status |= report_failures("breakdown", breakdown.back().failures);
    }
  }

  status |= report_failures("sample", check_samples(*ca, csrs, samples));
  status |= report_failures("store", check_store_and_audit(*ca, issued));
  std::fprintf(stderr,
               "checked: %zu raw signatures and %zu certificates verified; the store holds the "
               "%llu certificates issued and the CA's; the audit chain verifies%s\n",
               raw_verified, samples.size(), static_cast<unsigned long long>(issued),
               status == 0 ? "" : " (FAILURES above)");
  print_table(rows, opt.markdown, Headings{"issuance", "certs/s", "cpu us/cert"});
  if (!breakdown.empty()) {
    std::printf("\nbreakdown (one thread, %.1f s per batch size; wall time per certificate)\n",
                opt.breakdown_seconds);
    print_breakdown(breakdown, opt.markdown);
  }
  return status;
}

}  // namespace
}  // namespace hwca::bench

int main(int argc, char** argv) {
  using hwca::bench::IssueOptions;
  return hwca::bench::bench_main<IssueOptions>(
      "hwca_issue_bench", argc, argv, hwca::bench::parse_issue_options, hwca::bench::issue_usage,
      [](const IssueOptions& opt) {
        hwca::test::TempDir work("hwca-ibench", opt.dir);
        hwca::test::SoftHsmToken token("hwca-ibench", work.path());
        hwca::bench::CloseTokensOnExit close_tokens;
        return hwca::bench::run_bench(opt, work, token);
      });
}
