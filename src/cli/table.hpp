// Plain-text tables for listings: columns as wide as their widest cell, two spaces apart.
#pragma once

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

namespace hwca::cli {

using Row = std::vector<std::string>;

inline void print_table(std::ostream& out, const Row& header, const std::vector<Row>& rows) {
  std::vector<size_t> width(header.size(), 0);
  auto measure = [&](const Row& r) {
    for (size_t i = 0; i < r.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], r[i].size());
    }
  };
  measure(header);
  for (const auto& r : rows) measure(r);
  auto print = [&](const Row& r) {
    for (size_t i = 0; i < r.size(); ++i) {
      out << r[i];
      if (i + 1 < r.size()) out << std::string(width[i] - r[i].size() + 2, ' ');
    }
    out << "\n";
  };
  print(header);
  for (const auto& r : rows) print(r);
}

}  // namespace hwca::cli
