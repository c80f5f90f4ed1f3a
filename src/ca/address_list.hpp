// A node's registered IP addresses as the issuance database stores them (bootstrap_tokens and
// node_tpms): a JSON array of canonical IP address text.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace hwca::ca {

inline std::string addresses_json(const std::vector<std::string>& addresses) {
  return nlohmann::json(addresses).dump();
}

// A JSON array of strings, or nullopt for anything else (a damaged row).
inline std::optional<std::vector<std::string>> parse_addresses(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& a : j) {
    if (!a.is_string()) return std::nullopt;
    out.push_back(a.get<std::string>());
  }
  return out;
}

}  // namespace hwca::ca
