// `hwca k8s certs` and `hwca k8s renew`: the whole cluster's PKI, written as one tree a
// node (output_tree.hpp) from the cluster description (cluster.hpp) and the plan (plan.hpp).
//
// Order of work: read the CAs' certificates and every existing file; decide what to keep;
// only if something must be issued, open the CAs' keys in the token; make the new keys and
// requests on the host (in parallel), issue them a batch a CA (recorded and audited like
// any `hwca sign`); stage the changed node trees; put them in place together. A failure
// before the last step leaves the output folder as it was.
#pragma once

#include <ctime>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "ca/crypto_context.hpp"
#include "ca/home.hpp"
#include "ca/issuance_store.hpp"
#include "common/result.hpp"
#include "k8s/cluster.hpp"

namespace hwca::k8s {

struct PkiOptions {
  std::set<std::string> renew;  // certificate names to renew whatever their state; "all": all
  std::set<std::string> nodes;  // only these nodes; empty: every node
  std::string requester;        // for the database and the audit log
  tokens::OpenOptions key_options;
  unsigned threads = 0;  // for key generation; 0: one a core
  // Called as work advances ("keys", done, total), ("signing", 0, n), ("writing", done, total).
  std::function<void(const char* stage, size_t done, size_t total)> progress;
};

enum class Outcome { kept, issued, replaced, renewed };
const char* outcome_name(Outcome outcome);

struct PkiRow {
  std::string node;
  std::string name;  // kubeadm's name ("apiserver", "admin.conf", ...)
  std::string ca;    // the hwca CA that issued it
  Outcome outcome = Outcome::kept;
  std::string reason;  // why it was replaced; for a kept kubeconfig, what was updated
  std::time_t not_after = 0;
};

struct PkiReport {
  std::vector<PkiRow> rows;
  std::vector<std::string> notes;  // recovery of an interrupted run, a generated sa.key, ...
  size_t nodes_written = 0;
};

Result<PkiReport> write_cluster_pki(const ca::Home& home, const ca::CryptoContext& crypto,
                                    ca::IssuanceStore& store, const Cluster& cluster,
                                    const std::string& out_dir, const PkiOptions& options);

}  // namespace hwca::k8s
