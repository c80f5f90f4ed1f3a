#include "k8s/expiration.hpp"

#include <algorithm>
#include <filesystem>

#include "ca/certificate_builder.hpp"
#include "ca/dn.hpp"
#include "k8s/credential.hpp"
#include "k8s/plan.hpp"

namespace hwca::k8s {
namespace fs = std::filesystem;

std::string residual_text(std::time_t not_after, std::time_t now) {
  long long s = static_cast<long long>(not_after) - now;
  if (s <= 0) return "expired";
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m";
  if (s < 86400) return std::to_string(s / 3600) + "h";
  if (s < 365LL * 86400) return std::to_string(s / 86400) + "d";
  return std::to_string(s / (365LL * 86400)) + "y";
}

Result<std::vector<ExpiryRow>> scan_expiration(const std::string& dir,
                                               const std::set<std::string>& nodes) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return fail(ErrorKind::not_found, dir + " is not a folder");
  }
  std::vector<std::string> found;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || !entry.is_directory()) continue;
    if (!nodes.empty() && !nodes.count(name)) continue;
    found.push_back(name);
  }
  if (ec) return fail(ErrorKind::io, "cannot list " + dir + ": " + ec.message());
  for (const auto& n : nodes) {
    if (std::find(found.begin(), found.end(), n) == found.end()) {
      return fail(ErrorKind::not_found, "no tree for node '" + n + "' in " + dir);
    }
  }
  if (found.empty()) {
    return fail(ErrorKind::not_found,
                "no node trees in " + dir + " (write them with 'hwca k8s certs')");
  }
  std::sort(found.begin(), found.end());

  struct Known {
    std::string name, file;
    bool is_ca;
    CaRole ca;
  };
  std::vector<Known> known;
  for (CaRole role : {CaRole::kubernetes, CaRole::etcd, CaRole::front_proxy}) {
    known.push_back({ca_role_name(role), ca_role_file(role), true, role});
  }
  for (const auto& f : certificate_files()) known.push_back({f.name, f.file, false, f.ca});

  std::vector<ExpiryRow> rows;
  for (const auto& node : found) {
    for (const auto& k : known) {
      const std::string rel = node + "/" + k.file, path = dir + "/" + rel;
      if (!fs::exists(path, ec)) continue;
      ExpiryRow row;
      row.node = node;
      row.name = k.name;
      row.path = rel;
      row.is_ca = k.is_ca;
      row.ca = ca_role_name(k.ca);
      auto cert = read_certificate_file(path);
      if (!cert) {
        row.error = cert.error().message;
      } else {
        row.subject = ca::dn_text(X509_get_subject_name(cert->get()));
        row.not_after = ca::unix_time(X509_get0_notAfter(cert->get()));
      }
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

}  // namespace hwca::k8s
