#include "bench/k8s_checks.hpp"

#include <openssl/x509v3.h>

#include <filesystem>
#include <map>
#include <set>

#include "ca/audit_log.hpp"
#include "ca/ca_init.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/dn.hpp"
#include "ca/serial.hpp"
#include "k8s/credential.hpp"
#include "k8s/leaf_key.hpp"

namespace hwca::bench {
namespace fs = std::filesystem;
namespace {

// The files planned for each node, relative to its folder.
std::map<std::string, std::set<std::string>> planned_files(
    const k8s::Cluster& cluster, const std::vector<k8s::PlannedCert>& plan) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& node : cluster.nodes) {
    auto& files = out[node.name];
    files.insert(k8s::ca_role_file(k8s::CaRole::kubernetes));
    if (node.role == k8s::Role::control_plane) {
      files.insert(k8s::ca_role_file(k8s::CaRole::etcd));
      files.insert(k8s::ca_role_file(k8s::CaRole::front_proxy));
      files.insert(k8s::kServiceAccountKey);
      files.insert(k8s::kServiceAccountPub);
    }
  }
  for (const auto& p : plan) {
    auto& files = out[p.node];
    if (p.kubeconfig) {
      files.insert(p.path);
    } else {
      files.insert(p.path + ".crt");
      files.insert(p.path + ".key");
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> check_report(const k8s::PkiReport& report, size_t planned,
                                      size_t nodes, k8s::Outcome want) {
  std::vector<std::string> failures;
  if (report.rows.size() != planned) {
    failures.push_back("the report has " + std::to_string(report.rows.size()) + " rows, not " +
                       std::to_string(planned));
  }
  size_t other = 0;
  for (const auto& row : report.rows) other += row.outcome != want;
  if (other != 0) {
    failures.push_back(std::to_string(other) + " certificates were not " +
                       k8s::outcome_name(want));
  }
  size_t want_nodes = want == k8s::Outcome::kept ? 0 : nodes;
  if (report.nodes_written != want_nodes) {
    failures.push_back(std::to_string(report.nodes_written) + " node trees written, not " +
                       std::to_string(want_nodes));
  }
  return failures;
}

std::vector<std::string> check_tree(const std::string& out_dir, const k8s::Cluster& cluster,
                                    const std::vector<k8s::PlannedCert>& plan, size_t* files) {
  std::vector<std::string> failures;
  auto want = planned_files(cluster, plan);
  std::set<std::string> seen;
  *files = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(out_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name == ".hwca.lock") continue;
    auto it = want.find(name);
    if (it == want.end() || !entry.is_directory()) {
      failures.push_back(out_dir + " holds '" + name + "', which is no node's folder");
      continue;
    }
    seen.insert(name);
    std::set<std::string> found;
    for (auto f = fs::recursive_directory_iterator(entry.path(), ec);
         !ec && f != fs::recursive_directory_iterator(); f.increment(ec)) {
      if (f->is_regular_file()) found.insert(fs::relative(f->path(), entry.path()).string());
    }
    *files += found.size();
    if (found != it->second) {
      std::string diff;
      for (const auto& w : it->second) {
        if (!found.count(w)) diff += " missing " + w + ";";
      }
      for (const auto& f : found) {
        if (!it->second.count(f)) diff += " extra " + f + ";";
      }
      failures.push_back("node " + name + ":" + diff);
    }
  }
  if (ec) failures.push_back("listing " + out_dir + ": " + ec.message());
  if (seen.size() != want.size()) {
    failures.push_back(out_dir + " holds " + std::to_string(seen.size()) + " node folders, not " +
                       std::to_string(want.size()));
  }
  return failures;
}

std::vector<std::string> check_sample(K8sHome& h, const std::string& out_dir,
                                      const k8s::Cluster& cluster,
                                      const std::vector<k8s::PlannedCert>& plan, size_t stride,
                                      size_t* verified) {
  std::vector<std::string> failures;
  std::map<k8s::CaRole, ossl::Ptr<X509>> cas;
  for (auto role : {k8s::CaRole::kubernetes, k8s::CaRole::etcd, k8s::CaRole::front_proxy}) {
    auto cert = ca::load_ca_cert(*h.home, k8s::ca_name_for(cluster, role));
    if (!cert) return {"loading CA " + k8s::ca_name_for(cluster, role) + ": " +
                       cert.error().message};
    cas[role] = std::move(*cert);
  }
  // The nodes sampled: every control-plane node, every stride-th worker and the last.
  std::set<std::string> nodes;
  size_t worker = 0;
  for (size_t i = 0; i < cluster.nodes.size(); ++i) {
    const auto& n = cluster.nodes[i];
    bool cp = n.role == k8s::Role::control_plane;
    if (cp || worker++ % stride == 0 || i + 1 == cluster.nodes.size()) nodes.insert(n.name);
  }
  *verified = 0;
  for (const auto& p : plan) {
    if (!nodes.count(p.node)) continue;
    const std::string where = p.node + "/" + p.path;
    auto fail = [&](const std::string& why) { failures.push_back(where + ": " + why); };
    auto cred = k8s::read_credential(out_dir + "/" + p.node, p);
    if (!cred) {
      fail(cred.error().message);
      continue;
    }
    X509* cert = cred->cert.get();
    X509* ca = cas.at(p.ca).get();
    if (X509_verify(cert, X509_get0_pubkey(ca)) != 1) fail("does not verify with its CA's key");
    if (X509_check_issued(ca, cert) != X509_V_OK) fail("was not issued by its CA");
    auto cn = ca::name_values(X509_get_subject_name(cert), NID_commonName);
    if (cn.size() != 1 || cn.front() != p.common_name) fail("its CN is not " + p.common_name);
    if (ca::name_values(X509_get_subject_name(cert), NID_organizationName) != p.groups) fail("its groups differ");
    if (EVP_PKEY_eq(X509_get0_pubkey(cert), cred->key.get()) != 1) {
      fail("its key does not match its certificate");
    }
    auto type = k8s::key_type_of(cred->key.get());
    if (!type || *type != cluster.leaf_key_type) {
      fail(std::string("its key is not ") + tokens::key_type_name(cluster.leaf_key_type));
    }
    const std::string serial = ca::serial_hex(X509_get0_serialNumber(cert));
    auto row = h.store->find(k8s::ca_name_for(cluster, p.ca), serial);
    if (!row) {
      fail("looking it up in the database: " + row.error().message);
    } else if (!*row) {
      fail("serial " + serial + " is not in the database");
    } else if ((*row)->der != ca::cert_der(cert)) {
      fail("the database holds another DER for serial " + serial);
    }
    ERR_clear_error();
    ++*verified;
  }
  return failures;
}

std::vector<std::string> check_store_and_audit(K8sHome& h, size_t issued) {
  std::vector<std::string> failures;
  auto all = h.store->list(std::nullopt, std::nullopt);
  if (!all) {
    failures.push_back("listing the database: " + all.error().message);
  } else {
    std::set<std::pair<std::string, std::string>> serials;
    for (const auto& c : *all) serials.insert({c.ca, c.serial});
    if (all->size() != issued + K8sHome::kCas) {
      failures.push_back("the database holds " + std::to_string(all->size()) +
                         " certificates; issued " + std::to_string(issued) + " + the " +
                         std::to_string(K8sHome::kCas) + " CAs'");
    }
    if (serials.size() != all->size()) failures.push_back("the database repeats a serial");
  }
  size_t lines_issued = 0, lines_rejected = 0, lines_created = 0;
  auto summary = ca::AuditLog::verify(h.audit_path(), [&](const nlohmann::json& line) {
    const std::string event = line.value("event", "");
    lines_issued += event == "cert.issued";
    lines_rejected += event == "cert.rejected";
    lines_created += event == "ca.created";
  });
  if (!summary) {
    failures.push_back("AuditLog::verify: " + summary.error().message);
  } else if (lines_issued != issued || lines_rejected != 0 || lines_created != K8sHome::kCas) {
    failures.push_back("the audit log has " + std::to_string(lines_issued) + " cert.issued, " +
                       std::to_string(lines_rejected) + " cert.rejected and " +
                       std::to_string(lines_created) + " ca.created lines; issued " +
                       std::to_string(issued));
  }
  return failures;
}

}  // namespace hwca::bench
