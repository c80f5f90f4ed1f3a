#include "bench/issue_checks.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <set>

#include "ca/audit_log.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/serial.hpp"

namespace hwca::bench {

std::vector<std::string> check_samples(const BenchCa& ca, const std::vector<Csr>& csrs,
                                       const std::vector<IssueSample>& samples) {
  std::vector<std::string> failures;
  const X509* ca_cert = ca.issuer->ca_cert();
  EVP_PKEY* ca_key = X509_get0_pubkey(ca_cert);
  for (const auto& s : samples) {
    const std::string& serial = s.cert.record.serial;
    auto fail = [&](const std::string& why) {
      failures.push_back("certificate " + serial + " (request " + std::to_string(s.csr) +
                         "): " + why);
    };
    // The checks read the certificate as it was recorded and handed out: its DER.
    if (ca::cert_der(s.cert.cert.get()) != s.cert.record.der) {
      fail("the certificate handed out differs from its record's DER");
    }
    const unsigned char* p = s.cert.record.der.data();
    ossl::Ptr<X509> parsed(d2i_X509(nullptr, &p, static_cast<long>(s.cert.record.der.size())));
    if (!parsed) {
      fail("its DER does not parse");
      ERR_clear_error();
      continue;
    }
    X509* cert = parsed.get();
    if (X509_verify(cert, ca_key) != 1) fail("its signature does not verify with the CA's key");
    if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(ca_cert)) != 0) {
      fail("its issuer is not the CA's subject");
    }
    if (spki_der(X509_get0_pubkey(cert)) != csrs[s.csr].spki) {
      fail("it does not carry its request's public key");
    }
    if (ca::serial_hex(X509_get0_serialNumber(cert)) != serial) {
      fail("its serial differs from its record's");
    }
    auto row = ca.store->find(BenchCa::kName, serial);
    if (!row) {
      fail("looking it up in the store: " + row.error().message);
    } else if (!*row) {
      fail("it is not in the store");
    } else if ((*row)->der != s.cert.record.der) {
      fail("the store holds another DER for it");
    }
    ERR_clear_error();
  }
  return failures;
}

std::vector<std::string> check_store_and_audit(const BenchCa& ca, uint64_t issued) {
  std::vector<std::string> failures;
  auto all = ca.store->list(std::nullopt, std::nullopt);
  if (!all) {
    failures.push_back("listing the store: " + all.error().message);
  } else {
    std::set<std::string> serials;
    for (const auto& c : *all) serials.insert(c.serial);
    if (all->size() != issued + 1) {
      failures.push_back("the store holds " + std::to_string(all->size()) +
                         " certificates; issued " + std::to_string(issued) + " + the CA's");
    }
    if (serials.size() != all->size()) failures.push_back("the store repeats a serial");
  }
  uint64_t lines_issued = 0, lines_rejected = 0;
  auto summary = ca::AuditLog::verify(ca.audit_path(), [&](const nlohmann::json& line) {
    const std::string event = line.value("event", "");
    if (event == "cert.issued") ++lines_issued;
    if (event == "cert.rejected") ++lines_rejected;
  });
  if (!summary) {
    failures.push_back("AuditLog::verify: " + summary.error().message);
  } else if (lines_issued != issued || lines_rejected != 0) {
    failures.push_back("the audit log has " + std::to_string(lines_issued) + " cert.issued and " +
                       std::to_string(lines_rejected) + " cert.rejected lines; issued " +
                       std::to_string(issued));
  }
  return failures;
}

}  // namespace hwca::bench
