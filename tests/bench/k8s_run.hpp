// hwca_k8s_bench's timed runs: write_cluster_pki into a folder, with its stages timed from
// the progress callback and from the issuance store it is given.
//
//   prepare  the call to the first use of the issuance store: plan, CA certificates, the
//            output folder and its lock, every existing file read and checked, the
//            service-account key (a new RSA-2048 key when there is none, on one thread)
//   open     from there to the first "keys" report: the CAs that must sign opened
//            (Issuer::open: each CA's key found in the token, logged in, checked)
//   keys     first to last "keys" report: leaf keys and requests, on PkiOptions::threads
//   signing  the last "keys" report to the end of the last IssuanceStore::record: every
//            request checked and signed in the token, the batches recorded (one per CA;
//            "record" is the time inside record() alone) and audited but the last
//   writing  from there to the last "writing" report: the last batch's audit write, the
//            kubeconfigs rendered, every file staged (a folder a node under the staging
//            folder, each file written fresh)
//   commit   the last "writing" report to the return: one syncfs, the COMMIT record, the
//            staged trees renamed into place (and old ones moved aside), staging removed
//
// The boundaries follow the order of work in write_cluster_pki (cluster_pki.cpp, commit
// 8700484); if that order changes, so does what each stage holds. A stage that does not
// happen (nothing to issue) takes no time; its work is in the next.
#pragma once

#include <string>

#include "bench/k8s_setup.hpp"
#include "k8s/cluster_pki.hpp"

namespace hwca::bench {

struct Stages {
  double prepare = 0, open_cas = 0, keys = 0, signing = 0, record = 0, writing = 0, commit = 0;
};

struct PkiRun {
  double seconds = 0;      // wall time from the call to its return
  double cpu_seconds = 0;  // user + system time of the whole process meanwhile
  Stages stages;
  k8s::PkiReport report;
  std::string error;  // write_cluster_pki failed: why
};

// One call of write_cluster_pki into `out_dir` with `options` (their progress callback is
// replaced by the timing one).
PkiRun run_hwca(K8sHome& h, const k8s::Cluster& cluster, const std::string& out_dir,
                k8s::PkiOptions options);

// The process's user + system CPU seconds so far.
double process_cpu_seconds();

}  // namespace hwca::bench
