#include "bench/k8s_report.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

#include "bench/bench_report.hpp"

namespace hwca::bench {
namespace {

template <typename Run, typename Field>
std::vector<double> column(const std::vector<Run>& runs, Field field) {
  std::vector<double> out;
  for (const auto& r : runs) out.push_back(field(r));
  return out;
}

}  // namespace

void print_tables(const K8sOptions& opt, const std::vector<LeafResult>& results) {
  std::vector<std::vector<std::string>> table{
      {"leaf", "nodes", "certs", "rounds", "hwca median s", "hwca min s", "baseline median s",
       "baseline min s", "ratio", "paired", "re-run median s", "re-run / hwca",
       "target " + fmt(0, opt.target_seconds) + " s"}};
  for (const auto& r : results) {
    if (r.hwca.empty() || r.baseline.empty()) continue;
    auto hw = column(r.hwca, [](const PkiRun& x) { return x.seconds; });
    auto bl = column(r.baseline, [](const BaselineRun& x) { return x.seconds; });
    std::vector<double> paired;
    for (size_t i = 0; i < std::min(hw.size(), bl.size()); ++i) paired.push_back(hw[i] / bl[i]);
    double med = median(hw);
    // A re-run keeps everything: checking a kept file must not cost more than issuing it.
    double rerun =
        r.reruns.empty() ? 0 : median(column(r.reruns, [](const PkiRun& x) { return x.seconds; }));
    table.push_back({tokens::key_type_name(r.leaf), std::to_string(r.nodes),
                     std::to_string(r.certs), std::to_string(r.hwca.size()), fmt(2, med),
                     fmt(2, *std::min_element(hw.begin(), hw.end())), fmt(2, median(bl)),
                     fmt(2, *std::min_element(bl.begin(), bl.end())), fmt(2, med / median(bl)),
                     fmt(2, median(paired)), r.reruns.empty() ? "-" : fmt(2, rerun),
                     r.reruns.empty() ? "-" : fmt(2, rerun / med),
                     med < opt.target_seconds ? "met" : "missed"});
  }
  print_cells(table, opt.markdown);

  std::printf("\nbreakdown (median seconds over the rounds; cpu: user + system of the process)\n");
  std::vector<std::vector<std::string>> stages{{"leaf", "path", "prepare", "open", "keys", "signing",
                                                "(record)", "writing", "commit", "total", "cpu"}};
  auto med = [](const auto& runs, auto field) { return median(column(runs, field)); };
  for (const auto& r : results) {
    const std::string leaf = tokens::key_type_name(r.leaf);
    for (const auto* runs : {&r.hwca, &r.reruns}) {
      if (runs->empty()) continue;
      stages.push_back({leaf, runs == &r.hwca ? "hwca" : "hwca re-run",
                        fmt(2, med(*runs, [](const PkiRun& x) { return x.stages.prepare; })),
                        fmt(2, med(*runs, [](const PkiRun& x) { return x.stages.open_cas; })),
                        fmt(2, med(*runs, [](const PkiRun& x) { return x.stages.keys; })),
                        fmt(2, med(*runs, [](const PkiRun& x) { return x.stages.signing; })),
                        fmt(3, med(*runs, [](const PkiRun& x) { return x.stages.record; })),
                        fmt(2, med(*runs, [](const PkiRun& x) { return x.stages.writing; })),
                        fmt(2, med(*runs, [](const PkiRun& x) { return x.stages.commit; })),
                        fmt(2, med(*runs, [](const PkiRun& x) { return x.seconds; })),
                        fmt(2, med(*runs, [](const PkiRun& x) { return x.cpu_seconds; }))});
    }
    if (!r.baseline.empty()) {
      const auto& b = r.baseline;
      stages.push_back({leaf, "baseline", "-", "-",
                        fmt(2, med(b, [](const BaselineRun& x) { return x.keys; })),
                        fmt(2, med(b, [](const BaselineRun& x) { return x.signing; })), "-",
                        fmt(2, med(b, [](const BaselineRun& x) { return x.writing; })), "-",
                        fmt(2, med(b, [](const BaselineRun& x) { return x.seconds; })),
                        fmt(2, med(b, [](const BaselineRun& x) { return x.cpu_seconds; }))});
    }
  }
  print_cells(stages, opt.markdown);
}

}  // namespace hwca::bench
