// hwca_issue_bench's breakdown: one extra run of the real issuing path, on one thread, in
// which each step is timed where the issuer calls it. The steps are found at link time: the
// program is linked with `ld --wrap` for the functions below (see CMakeLists.txt), whose
// wrappers time the call when a breakdown is on and otherwise only pass it through; the
// database calls are timed by an IssuanceStore that wraps the real one. Nothing in src/ is
// changed for it.
//
//   parse CSR     parse_csr, less its X509_REQ_verify_ex
//   verify CSR    X509_REQ_verify_ex: the request's own signature (ECDSA P-256 verify)
//   build         build_certificate, less X509_sign_ctx and X509_verify
//   sign          X509_sign_ctx: encoding the TBS, SHA-256, the provider, C_Sign
//   re-verify     X509_verify in build_certificate (RSA CA keys only)
//   serial check  IssuanceStore::serial_exists
//   record        IssuanceStore::record: the batch's SQLite transaction, committed and synced
//   audit         AuditTrail::append_all: the batch's lines, written and synced
//   other         the rest of issue_batch: profile, serial numbers, DER, fingerprints, JSON
#pragma once

#include <string>
#include <vector>

#include "bench/issue_run.hpp"

namespace hwca::bench {

struct Breakdown {
  int batch = 0;
  uint64_t certs = 0;
  double cpu_us = 0;               // CPU time per certificate of the issuing thread
  std::vector<std::string> steps;  // names, as above
  std::vector<double> us;          // wall microseconds per certificate, one per step
  double total_us = 0;             // issue_batch per certificate
  std::vector<std::string> failures;
};

// Issues on one thread for `window` through a second Issuer over the same home and store,
// with every step timed. The certificates count as issued (`made`).
Breakdown run_breakdown(const Window& window, const std::vector<int>& cpus, BenchCa& ca,
                        const std::vector<Csr>& csrs, int batch, uint64_t* made);

void print_breakdown(const std::vector<Breakdown>& rows, bool markdown);

}  // namespace hwca::bench
