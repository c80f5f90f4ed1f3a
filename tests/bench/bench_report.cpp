#include "bench/bench_report.hpp"

#include <algorithm>
#include <cstdio>

namespace hwca::bench {
namespace {


}  // namespace

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string fmt(int decimals, double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

void print_table(const std::vector<Row>& rows, bool markdown, const Headings& headings) {
  auto med = [](const std::vector<double>& v, int decimals) {
    return v.empty() ? std::string("-") : fmt(decimals, median(v));
  };
  auto ratio = [](const std::vector<double>& num, const std::vector<double>& den) {
    if (num.empty() || den.empty() || median(den) <= 0) return std::string("-");
    return fmt(2, median(num) / median(den));
  };
  auto paired = [](const std::vector<double>& num, const std::vector<double>& den) {
    std::vector<double> q;
    for (size_t i = 0; i < num.size() && i < den.size(); ++i) {
      if (den[i] > 0) q.push_back(num[i] / den[i]);
    }
    return q.empty() ? std::string("-") : fmt(2, median(q));
  };
  std::vector<std::vector<std::string>> table{{headings.key, "threads", "raw sig/s", headings.rate,
                                               "ratio", "paired", "raw cpu us/sig", headings.cpu,
                                               "cpu ratio"}};
  for (const auto& r : rows) {
    table.push_back({r.key, std::to_string(r.threads), med(r.raw, 0), med(r.provider, 0),
                     ratio(r.provider, r.raw), paired(r.provider, r.raw), med(r.raw_cpu, 1),
                     med(r.provider_cpu, 1), ratio(r.raw_cpu, r.provider_cpu)});
  }
  print_cells(table, markdown);
}

void print_cells(const std::vector<std::vector<std::string>>& table, bool markdown) {
  const size_t ncol = table.front().size();
  if (markdown) {
    for (size_t row = 0; row < table.size(); ++row) {
      std::printf("|");
      for (const auto& cell : table[row]) std::printf(" %s |", cell.c_str());
      std::printf("\n");
      if (row == 0) {
        std::printf("|---|");
        for (size_t c = 1; c < ncol; ++c) std::printf("---:|");
        std::printf("\n");
      }
    }
  } else {
    std::vector<size_t> width(ncol, 0);
    for (const auto& row : table) {
      for (size_t c = 0; c < ncol; ++c) width[c] = std::max(width[c], row[c].size());
    }
    for (const auto& row : table) {
      std::string line;
      for (size_t c = 0; c < ncol; ++c) {
        line += row[c];
        if (c + 1 < ncol) line += std::string(width[c] - row[c].size() + 2, ' ');
      }
      std::printf("%s\n", line.c_str());
    }
  }
  std::fflush(stdout);
}

}  // namespace hwca::bench
