// hwca_k8s_bench's baseline: the same leaf certificates made in software with plain
// OpenSSL in this process, and nothing else. For each certificate of the plan: a new key
// of the leaf type, a certificate (the plan's subject and SANs; basicConstraints, keyUsage,
// extendedKeyUsage, subject and authority key identifiers; a random 16-byte serial; one
// year) signed with SHA-256 by an ec-p256 CA key held in memory, then one PEM file (the
// certificate and its PKCS#8 key, mode 0600) in one folder. Keys and certificates are made
// on the same number of threads as hwca's keys; the files are written by one thread and
// not synced. No token, no requests, no database, no audit log, no staging, no sa.key.
//
//   keys     every key generated
//   signing  every certificate built and signed
//   writing  every file written
#pragma once

#include <string>
#include <vector>

#include "common/ossl.hpp"
#include "k8s/plan.hpp"
#include "tokens/keystore.hpp"

namespace hwca::bench {

struct BaselineCa {
  ossl::Ptr<EVP_PKEY> key;  // ec-p256, default provider
  ossl::Ptr<X509> cert;     // self-signed
};

// Throws std::runtime_error.
BaselineCa make_baseline_ca();

struct BaselineRun {
  double seconds = 0, cpu_seconds = 0;
  double keys = 0, signing = 0, writing = 0;
  std::string error;
};

// Writes <dir>/<node>_<name>.pem for every planned certificate (`dir` exists).
BaselineRun run_baseline(const BaselineCa& ca, const std::vector<k8s::PlannedCert>& plan,
                         tokens::KeyType leaf, unsigned threads, const std::string& dir);

// Failures (empty when fine): `dir` holds exactly one file per planned certificate, and the
// certificates of the first and last verify with the CA's key and carry the planned CN.
std::vector<std::string> check_baseline(const BaselineCa& ca,
                                        const std::vector<k8s::PlannedCert>& plan,
                                        const std::string& dir);

}  // namespace hwca::bench
