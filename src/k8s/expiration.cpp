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

namespace {

struct Known {
  std::string name, file;
  bool is_ca;
  CaRole ca;
};

const std::vector<Known>& known_files() {
  static const std::vector<Known> known = [] {
    std::vector<Known> k;
    for (CaRole role : {CaRole::kubernetes, CaRole::etcd, CaRole::front_proxy}) {
      k.push_back({ca_role_name(role), ca_role_file(role), true, role});
    }
    for (const auto& f : certificate_files()) k.push_back({f.name, f.file, false, f.ca});
    return k;
  }();
  return known;
}

// Does `dir` itself hold a node's files (pki/ca.crt, kubelet.conf, ...)?
bool is_node_tree(const std::string& dir) {
  std::error_code ec;
  for (const auto& k : known_files()) {
    if (fs::exists(dir + "/" + k.file, ec)) return true;
  }
  return false;
}

// "pki/etcd/ca.crt" -> "pki/etcd/ca.key"
std::string key_file_of(const std::string& cert_file) {
  return cert_file.substr(0, cert_file.rfind('.')) + ".key";
}

void scan_node(const std::string& dir, const std::string& node, std::vector<ExpiryRow>& rows) {
  std::error_code ec;
  const std::string prefix = node.empty() ? "" : node + "/";
  for (const auto& k : known_files()) {
    const std::string rel = prefix + k.file, path = dir + "/" + rel;
    if (!fs::exists(path, ec)) continue;
    ExpiryRow row;
    row.node = node;
    row.name = k.name;
    row.path = rel;
    row.is_ca = k.is_ca;
    row.ca = ca_role_name(k.ca);
    row.externally_managed = !fs::exists(dir + "/" + prefix + key_file_of(ca_role_file(k.ca)), ec);
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

}  // namespace

Result<std::vector<ExpiryRow>> scan_expiration(const std::string& dir,
                                               const std::set<std::string>& nodes) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return fail(ErrorKind::not_found, dir + " is not a folder");
  }
  std::vector<ExpiryRow> rows;
  if (is_node_tree(dir)) {
    if (!nodes.empty()) {
      return fail(ErrorKind::usage, dir +
                                        " is one node's own tree (it holds pki/ or kubelet.conf "
                                        "itself): --node applies to a folder of node trees");
    }
    scan_node(dir, "", rows);
    return rows;
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
  std::sort(found.begin(), found.end());
  for (const auto& node : found) scan_node(dir, node, rows);
  if (rows.empty()) {
    return fail(ErrorKind::not_found,
                "no Kubernetes certificates in " + dir +
                    ": it is neither a node's own tree (pki/ca.crt, kubelet.conf, ...) nor a "
                    "folder of node trees written by 'hwca k8s certs' (DIR/<node>/pki/...)");
  }
  return rows;
}

}  // namespace hwca::k8s
