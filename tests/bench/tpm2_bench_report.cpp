#include "bench/tpm2_bench_report.hpp"

#include <algorithm>
#include <cstdio>

#include "bench/bench_report.hpp"

namespace hwca::bench {
namespace {

template <typename F>
std::vector<double> each(const std::vector<SignRun>& runs, F f) {
  std::vector<double> v;
  for (const auto& r : runs) v.push_back(f(r));
  return v;
}

// Median of num[i] / den[i]: each run against the tpm2-openssl run of the same round.
std::string paired(const std::vector<double>& num, const std::vector<double>& den) {
  std::vector<double> q;
  for (size_t i = 0; i < num.size() && i < den.size(); ++i) {
    if (den[i] > 0) q.push_back(num[i] / den[i]);
  }
  return q.empty() ? "-" : fmt(2, median(q));
}

}  // namespace

void print_signing(const std::vector<KeyUnderTest>& keys, const std::vector<SignRun>& trips, int n,
                   bool markdown) {
  std::printf(
      "ec-p256 signatures, %d per phase after the first (EVP_DigestSign of 256 bytes "
      "with SHA-256; the Signer: SHA-256 on the host, then sign)\n",
      n);
  std::vector<std::vector<std::string>> table{{"key file", "path", "sig/s", "ms/sig",
                                               "rate vs tpm2-openssl", "paired", "host cpu us/sig",
                                               "swtpm cpu us/sig"}};
  for (const auto& k : keys) {
    const auto base = each(k.runs[1], [](const SignRun& r) { return r.rate; });
    for (SignPath p : kSignPaths) {
      const auto& runs = k.runs[static_cast<int>(p)];
      const auto rate = each(runs, [](const SignRun& r) { return r.rate; });
      double m = median(rate);
      table.push_back({k.label, sign_path_name(p), fmt(0, m), fmt(2, m > 0 ? 1e3 / m : 0),
                       fmt(2, median(base) > 0 ? m / median(base) : 0), paired(rate, base),
                       fmt(0, median(each(runs, [](const SignRun& r) { return r.host_cpu_us; }))),
                       fmt(0, median(each(runs, [](const SignRun& r) { return r.tpm_cpu_us; })))});
    }
  }
  if (!trips.empty()) {
    double m = median(each(trips, [](const SignRun& r) { return r.rate; }));
    table.push_back({"(none)", "TPM2_GetRandom, for scale", fmt(0, m), fmt(2, m > 0 ? 1e3 / m : 0),
                     "", "",
                     fmt(0, median(each(trips, [](const SignRun& r) { return r.host_cpu_us; }))),
                     fmt(0, median(each(trips, [](const SignRun& r) { return r.tpm_cpu_us; })))});
  }
  print_cells(table, markdown);

  std::printf(
      "\ncold start (ms; medians of the phases): open = ESYS context (tpm2-openssl: provider "
      "load), key file read and loaded into the TPM\n");
  table = {{"key file", "path", "open", "first signature", "open + first", "time vs tpm2-openssl"}};
  auto cold = [](const SignRun& r) { return r.open_ms + r.first_ms; };
  for (const auto& k : keys) {
    double base = median(each(k.runs[1], cold));
    for (SignPath p : kSignPaths) {
      const auto& runs = k.runs[static_cast<int>(p)];
      double total = median(each(runs, cold));
      table.push_back({k.label, sign_path_name(p),
                       fmt(1, median(each(runs, [](const SignRun& r) { return r.open_ms; }))),
                       fmt(1, median(each(runs, [](const SignRun& r) { return r.first_ms; }))),
                       fmt(1, total), fmt(2, base > 0 ? total / base : 0)});
    }
  }
  print_cells(table, markdown);
}

void print_making(const std::vector<TypeRuns>& types, int n, bool markdown) {
  std::printf(
      "\nmaking a key (ms, %d of each, in turns; ESYS context opened before the clock starts)\n",
      n);
  std::vector<std::vector<std::string>> table{
      {"type", "what", "median", "min", "max", "time vs tpm2-openssl", "against"}};
  auto values = [](const std::vector<MadeKey>& v, bool make, bool save) {
    std::vector<double> out;
    for (const auto& m : v) out.push_back((make ? m.make_ms : 0) + (save ? m.save_ms : 0));
    return out;
  };
  for (const auto& t : types) {
    const auto& hwca = t.made[static_cast<int>(MakePath::hwca)];
    const auto& parts = t.made[static_cast<int>(MakePath::hwca_tpm)];
    const auto& ossl = t.made[static_cast<int>(MakePath::openssl)];
    if (hwca.empty() || parts.empty() || ossl.empty()) continue;
    const double generate = median(values(ossl, true, false));
    const double with_file = median(values(ossl, true, true));
    auto row = [&](const std::string& what, std::vector<double> v, double base,
                   const std::string& against) {
      double m = median(v);
      auto [lo, hi] = std::minmax_element(v.begin(), v.end());
      table.push_back({tokens::key_type_name(t.type), what, fmt(1, m), fmt(1, *lo), fmt(1, *hi),
                       base > 0 ? fmt(2, m / base) : "", against});
    };
    row("hwca create_key: key, then its file (synced)", values(hwca, true, false), with_file,
        "generate + PEM file");
    row("hwca tpm2::create_key: the key alone", values(parts, true, false), generate, "generate");
    row("hwca write_key_file: the file alone (synced)", values(parts, false, true), 0, "");
    row("tpm2-openssl EVP_PKEY_generate", values(ossl, true, false), 0, "");
    row("tpm2-openssl generate + PEM file (not synced) + free", values(ossl, true, true), 0, "");
  }
  print_cells(table, markdown);
}

}  // namespace hwca::bench
