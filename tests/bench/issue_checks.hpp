// hwca_issue_bench's checks after all runs: what was issued is what the store and the audit
// log hold, and a sample of the certificates is right. Each returns the failures it found.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/issue_run.hpp"
#include "bench/issue_setup.hpp"

namespace hwca::bench {

// Each sampled certificate, read back from the DER it was recorded with, verifies with the
// CA certificate's key (X509_verify), names the CA as its issuer, carries its request's
// public key and its record's serial, and is in the store as handed out.
std::vector<std::string> check_samples(const BenchCa& ca, const std::vector<Csr>& csrs,
                                       const std::vector<IssueSample>& samples);

// The store holds exactly `issued` certificates plus the CA's own, all with distinct
// serials; the audit chain verifies (AuditLog::verify) and holds exactly `issued`
// cert.issued lines and no cert.rejected one.
std::vector<std::string> check_store_and_audit(const BenchCa& ca, uint64_t issued);

}  // namespace hwca::bench
