// The time hwca takes to write the Kubernetes PKI of a cluster (k8s::write_cluster_pki:
// docs/kubernetes.md), against plain OpenSSL making the same leaf certificates in the same
// process, so that the ratio survives a noisy machine.
//
//   hwca      write_cluster_pki into a new folder: 3 control-plane nodes (12 certificates
//             and kubeconfigs each, the CA files, sa.key) and N workers (kubelet.conf and
//             pki/ca.crt each); leaf keys made on the host, requests signed by the three CA
//             keys in a SoftHSM2 token, every certificate recorded and audited, the node
//             trees staged and swapped in. Timed from the call to its return, with its
//             stages (k8s_run.hpp).
//   baseline  the same number of leaf certificates: keys, certificates signed with an
//             ec-p256 CA key in memory, one PEM file each (k8s_baseline.hpp).
//   re-run    write_cluster_pki again over the last tree, unchanged: everything is kept; it
//             is given a PKCS#11 module that does not exist, so it must not need the token.
//
// For each leaf type (--leaf, default ec-p256 then rsa-2048) the rounds alternate hwca and
// the baseline (odd rounds hwca first). Then the checks: the report and the files of every
// tree, a sample of the certificates against their CAs and the database, the database and
// the audit chain against everything issued (k8s_checks.hpp).
//
// Exit status: 0; 1 if a run or a check failed; 2 for a usage or setup error. A figure
// never fails the run. See docs/performance.md.
#include <openssl/crypto.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_main.hpp"
#include "bench/issue_setup.hpp"
#include "bench/k8s_baseline.hpp"
#include "bench/k8s_checks.hpp"
#include "bench/k8s_options.hpp"
#include "bench/k8s_report.hpp"
#include "bench/k8s_run.hpp"
#include "bench/k8s_setup.hpp"
#include "support/temp_dir.hpp"

namespace hwca::bench {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

int report_failures(const std::string& what, const std::vector<std::string>& failures) {
  size_t shown = 0;
  for (const auto& f : failures) {
    if (shown++ == 20) {
      std::fprintf(stderr, "FAIL: %s: ... (%zu in all)\n", what.c_str(), failures.size());
      break;
    }
    std::fprintf(stderr, "FAIL: %s: %s\n", what.c_str(), f.c_str());
  }
  return failures.empty() ? 0 : 1;
}

void print_stages(const char* what, int round, const PkiRun& r) {
  const Stages& s = r.stages;
  std::fprintf(stderr,
               "  round %d %-8s %6.2f s (cpu %5.2f s): prepare %.2f, open %.2f, keys %.2f, "
               "signing %.2f (record %.3f), writing %.2f, commit %.2f\n",
               round, what, r.seconds, r.cpu_seconds, s.prepare, s.open_cas, s.keys, s.signing,
               s.record, s.writing, s.commit);
}

int run_leaf(const K8sOptions& opt, const TempDir& work, K8sHome& h, const BaselineCa& base_ca,
             tokens::KeyType leaf, LeafResult& out, size_t& issued) {
  int status = 0;
  const std::string name = tokens::key_type_name(leaf);
  out.leaf = leaf;
  out.workers = opt.workers_for(leaf);
  const k8s::Cluster cluster = make_cluster(opt.control_planes, out.workers, leaf);
  auto plan = k8s::plan_certs(cluster);
  if (!plan) throw std::runtime_error("plan_certs: " + plan.error().message);
  out.nodes = cluster.nodes.size();
  out.certs = plan->size();
  std::fprintf(stderr, "%s leaves: %zu nodes (%d control-plane, %d workers), %zu certificates\n",
               name.c_str(), out.nodes, opt.control_planes, out.workers, out.certs);

  k8s::PkiOptions options;
  options.requester = "bench";
  options.key_options = h.key_options;
  options.threads = opt.threads;
  // Nothing written is removed before the end, so that no run pays for an earlier one's
  // clean-up: ext4 without a journal (the machine of docs/performance.md) checks every
  // inode it allocates against recent deletions; with each round's trees removed before
  // the next, 15% of a profile's samples were in that check.
  std::string last_out;
  for (int round = 1; round <= opt.rounds_for(leaf); ++round) {
    for (int step = 0; step < 2; ++step) {
      bool hwca_turn = (step == 0) == (round % 2 == 1);
      const std::string tag = name + "-" + std::to_string(round);
      if (hwca_turn) {
        const std::string dir = work.file("out-" + tag);
        PkiRun r = run_hwca(h, cluster, dir, options);
        if (!r.error.empty()) {
          std::fprintf(stderr, "FAIL: write_cluster_pki: %s\n", r.error.c_str());
          return 1;
        }
        print_stages("hwca", round, r);
        for (const auto& row : r.report.rows) issued += row.outcome == k8s::Outcome::issued;
        status |= report_failures("report", check_report(r.report, out.certs, out.nodes,
                                                         k8s::Outcome::issued));
        status |= report_failures("tree", check_tree(dir, cluster, *plan, &out.files));
        last_out = dir;
        out.hwca.push_back(std::move(r));
      } else {
        const std::string dir = work.file("baseline-" + tag);
        fs::create_directory(dir);
        BaselineRun b = run_baseline(base_ca, *plan, leaf, opt.thread_count(), dir);
        if (!b.error.empty()) {
          std::fprintf(stderr, "FAIL: baseline: %s\n", b.error.c_str());
          return 1;
        }
        std::fprintf(stderr,
                     "  round %d baseline %6.2f s (cpu %5.2f s): keys %.2f, signing %.2f, "
                     "writing %.2f\n",
                     round, b.seconds, b.cpu_seconds, b.keys, b.signing, b.writing);
        status |= report_failures("baseline", check_baseline(base_ca, *plan, dir));
        out.baseline.push_back(b);
      }
    }
  }

  // Over the unchanged tree: nothing to issue, so no token either (a module that does not
  // exist would fail the run if it were opened).
  k8s::PkiOptions again = options;
  again.key_options.module = work.file("no-such-pkcs11-module.so");
  again.key_options.pin_source = "file:" + work.file("no-such-pin");
  for (int i = 1; i <= opt.reruns; ++i) {
    PkiRun r = run_hwca(h, cluster, last_out, again);
    if (!r.error.empty()) {
      std::fprintf(stderr, "FAIL: re-run: write_cluster_pki: %s\n", r.error.c_str());
      return 1;
    }
    print_stages("re-run", i, r);
    status |= report_failures("re-run report",
                              check_report(r.report, out.certs, out.nodes, k8s::Outcome::kept));
    out.reruns.push_back(std::move(r));
  }
  size_t files = 0, verified = 0;
  status |= report_failures("tree after re-runs", check_tree(last_out, cluster, *plan, &files));
  size_t stride = std::max<size_t>(1, static_cast<size_t>(out.workers) / 50);
  status |= report_failures("sample",
                            check_sample(h, last_out, cluster, *plan, stride, &verified));
  std::fprintf(stderr,
               "checked %s: every tree holds the %zu node folders and %zu files planned; "
               "%zu credentials of the last verified against their CAs and the database\n",
               name.c_str(), out.nodes, out.files, verified);
  return status;
}

int run_bench(const K8sOptions& opt, const TempDir& work, const test::SoftHsmToken& token) {
  std::fprintf(stderr,
               "%s; %u hardware threads; %u key threads; work folder %s on %s; load average "
               "%s\n",
               OpenSSL_version(OPENSSL_VERSION), std::thread::hardware_concurrency(),
               opt.thread_count(), work.path().c_str(), describe_filesystem(work.path()).c_str(),
               load_average().c_str());
  std::unique_ptr<K8sHome> h = make_k8s_home(token, work.file("home"));
  const BaselineCa base_ca = make_baseline_ca();

  int status = 0;
  size_t issued = 0;
  std::vector<LeafResult> results;
  for (tokens::KeyType leaf : opt.leaves) {
    results.emplace_back();
    status |= run_leaf(opt, work, *h, base_ca, leaf, results.back(), issued);
  }
  status |= report_failures("database and audit log", check_store_and_audit(*h, issued));
  std::fprintf(stderr,
               "checked: the database holds the %zu certificates issued and the CAs'; the "
               "audit chain verifies%s\nload average at the end %s\n",
               issued, status == 0 ? "" : " (FAILURES above)", load_average().c_str());
  print_tables(opt, results);
  return status;
}

}  // namespace
}  // namespace hwca::bench

int main(int argc, char** argv) {
  using hwca::bench::K8sOptions;
  return hwca::bench::bench_main<K8sOptions>(
      "hwca_k8s_bench", argc, argv, hwca::bench::parse_k8s_options, hwca::bench::k8s_usage,
      [](const K8sOptions& opt) {
        hwca::test::TempDir work("hwca-k8sbench", opt.dir);
        hwca::test::SoftHsmToken token("hwca-k8sbench", work.path());
        hwca::bench::CloseTokensOnExit close_tokens;
        return hwca::bench::run_bench(opt, work, token);
      });
}
