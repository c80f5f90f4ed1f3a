// hwca_k8s_bench's checks, run on what the timed runs wrote (so that the smoke run means
// something). Each returns the failures found, empty when all is well.
#pragma once

#include <string>
#include <vector>

#include "bench/k8s_setup.hpp"
#include "k8s/cluster_pki.hpp"
#include "k8s/plan.hpp"

namespace hwca::bench {

// The report: one row per planned certificate, every one with `want` (issued on a fresh
// folder, kept on a re-run), and as many node trees written as nodes (none on a re-run).
std::vector<std::string> check_report(const k8s::PkiReport& report, size_t planned,
                                      size_t nodes, k8s::Outcome want);

// The output folder holds exactly one folder a node (besides .hwca.lock; no staging left),
// and each exactly the files planned for it: its certificates and keys or kubeconfigs, the
// CA certificates of its role, sa.key and sa.pub on a control-plane node. `*files` counts
// the files found.
std::vector<std::string> check_tree(const std::string& out_dir, const k8s::Cluster& cluster,
                                    const std::vector<k8s::PlannedCert>& plan, size_t* files);

// Every credential of the control-plane nodes and of every `stride`-th worker (and the
// last): the certificate verifies with its CA certificate's key (X509_verify) and was
// issued by it, holds the planned CN and groups, its key is of the leaf type and matches it,
// and the issuance database holds it with the same DER. `*verified` counts them.
std::vector<std::string> check_sample(K8sHome& h, const std::string& out_dir,
                                      const k8s::Cluster& cluster,
                                      const std::vector<k8s::PlannedCert>& plan, size_t stride,
                                      size_t* verified);

// The database holds `issued` certificates plus the three CAs', serials distinct per CA;
// the audit chain verifies (AuditLog::verify) with `issued` cert.issued lines, three
// ca.created and no cert.rejected.
std::vector<std::string> check_store_and_audit(K8sHome& h, size_t issued);

}  // namespace hwca::bench
