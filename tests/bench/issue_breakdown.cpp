#include "bench/issue_breakdown.hpp"

#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <type_traits>

#include "bench/bench_report.hpp"
#include "ca/audit_log.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/csr.hpp"
#include "support/forwarding_store.hpp"

namespace hwca::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_on{false};

enum Step { kParseCsr, kVerifyCsr, kBuild, kSign, kReverify, kSerial, kRecord, kAudit, kSteps };

// Nanoseconds spent in each wrapped call while the breakdown is on (inclusive).
std::atomic<uint64_t> g_ns[kSteps];

// Times one call into g_ns[step] when the breakdown is on.
class Timed {
 public:
  explicit Timed(Step step) : step_(step), on_(g_on.load(std::memory_order_relaxed)) {
    if (on_) start_ = Clock::now();
  }
  ~Timed() {
    if (!on_) return;
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start_).count();
    g_ns[step_].fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
  }
  Timed(const Timed&) = delete;
  Timed& operator=(const Timed&) = delete;

 private:
  Step step_;
  bool on_;
  Clock::time_point start_;
};

// The issuance store the breakdown's Issuer uses: the real one, with its two calls on the
// issuing path timed.
class TimedStore : public test::ForwardingStore {
 public:
  using test::ForwardingStore::ForwardingStore;
  Result<bool> serial_exists(const std::string& ca, const std::string& serial) override {
    Timed t(kSerial);
    return inner_.serial_exists(ca, serial);
  }
  Status record(const std::vector<ca::IssuedCert>& batch) override {
    Timed t(kRecord);
    return inner_.record(batch);
  }
};

}  // namespace
}  // namespace hwca::bench

// The link-time wrappers (ld --wrap=SYMBOL sends the calls other objects make to SYMBOL to
// __wrap_SYMBOL, and __real_SYMBOL to the original). The C++ symbols are mangled names; the
// static_asserts make sure each wrapper has the signature, return type included, of the
// function whose name it carries (a changed signature changes the name: the link then
// fails on an undefined __real_ symbol).
namespace hwca::bench::wrapped {
using ParseCsr = Result<ossl::Ptr<X509_REQ>>(std::string_view, const std::string&, OSSL_LIB_CTX*);
using BuildCertificate = Result<ossl::Ptr<X509>>(const ca::CertificateSpec&, OSSL_LIB_CTX*);
using AppendAll =
    Result<std::string> (ca::AuditTrail::*)(const std::vector<ca::AuditTrail::Event>&);
static_assert(std::is_same_v<decltype(ca::parse_csr), ParseCsr>);
static_assert(std::is_same_v<decltype(ca::build_certificate), BuildCertificate>);
static_assert(std::is_same_v<decltype(&ca::AuditTrail::append_all), AppendAll>);
}  // namespace hwca::bench::wrapped

#define HWCA_PARSE_CSR \
  _ZN4hwca2ca9parse_csrESt17basic_string_viewIcSt11char_traitsIcEERKNSt7__cxx1112basic_stringIcS3_SaIcEEEP15ossl_lib_ctx_st
#define HWCA_BUILD_CERTIFICATE \
  _ZN4hwca2ca17build_certificateERKNS0_15CertificateSpecEP15ossl_lib_ctx_st
#define HWCA_APPEND_ALL _ZN4hwca2ca10AuditTrail10append_allB5cxx11ERKSt6vectorINS1_5EventESaIS3_EE
#define HWCA_CAT(a, b) a##b
#define HWCA_WRAP(sym) HWCA_CAT(__wrap_, sym)
#define HWCA_REAL(sym) HWCA_CAT(__real_, sym)

extern "C" {
using hwca::bench::kAudit, hwca::bench::kBuild, hwca::bench::kParseCsr, hwca::bench::kReverify,
    hwca::bench::kSign, hwca::bench::kVerifyCsr;
using hwca::bench::Timed;
namespace ca = hwca::ca;

hwca::Result<hwca::ossl::Ptr<X509_REQ>> HWCA_REAL(HWCA_PARSE_CSR)(std::string_view,
                                                                  const std::string&,
                                                                  OSSL_LIB_CTX*);
hwca::Result<hwca::ossl::Ptr<X509_REQ>> HWCA_WRAP(HWCA_PARSE_CSR)(std::string_view data,
                                                                  const std::string& source,
                                                                  OSSL_LIB_CTX* libctx) {
  Timed t(kParseCsr);
  return HWCA_REAL(HWCA_PARSE_CSR)(data, source, libctx);
}

hwca::Result<hwca::ossl::Ptr<X509>> HWCA_REAL(HWCA_BUILD_CERTIFICATE)(const ca::CertificateSpec&,
                                                                      OSSL_LIB_CTX*);
hwca::Result<hwca::ossl::Ptr<X509>> HWCA_WRAP(HWCA_BUILD_CERTIFICATE)(
    const ca::CertificateSpec& spec, OSSL_LIB_CTX* libctx) {
  Timed t(kBuild);
  return HWCA_REAL(HWCA_BUILD_CERTIFICATE)(spec, libctx);
}

// A member function: `this` is the first argument.
hwca::Result<std::string> HWCA_REAL(HWCA_APPEND_ALL)(ca::AuditTrail*,
                                                     const std::vector<ca::AuditTrail::Event>&);
hwca::Result<std::string> HWCA_WRAP(HWCA_APPEND_ALL)(
    ca::AuditTrail* self, const std::vector<ca::AuditTrail::Event>& events) {
  Timed t(kAudit);
  return HWCA_REAL(HWCA_APPEND_ALL)(self, events);
}

int __real_X509_REQ_verify_ex(X509_REQ*, EVP_PKEY*, OSSL_LIB_CTX*, const char*);
int __wrap_X509_REQ_verify_ex(X509_REQ* req, EVP_PKEY* key, OSSL_LIB_CTX* libctx,
                              const char* propq) {
  Timed t(kVerifyCsr);
  return __real_X509_REQ_verify_ex(req, key, libctx, propq);
}

int __real_X509_sign_ctx(X509*, EVP_MD_CTX*);
int __wrap_X509_sign_ctx(X509* x, EVP_MD_CTX* ctx) {
  Timed t(kSign);
  return __real_X509_sign_ctx(x, ctx);
}

int __real_X509_verify(X509*, EVP_PKEY*);
int __wrap_X509_verify(X509* x, EVP_PKEY* key) {
  Timed t(kReverify);
  return __real_X509_verify(x, key);
}
}  // extern "C"

namespace hwca::bench {

Breakdown run_breakdown(const Window& window, const std::vector<int>& cpus, BenchCa& ca,
                        const std::vector<Csr>& csrs, int batch, uint64_t* made) {
  Breakdown out;
  out.batch = batch;
  TimedStore store(*ca.store);
  auto issuer = ca::Issuer::open(*ca.home, *ca.crypto, store, BenchCa::kName, ca.key_options);
  if (!issuer) {
    out.failures.push_back("Issuer::open: " + issuer.error().message);
    return out;
  }
  for (auto& ns : g_ns) ns.store(0);
  g_on.store(true);
  IssueRunResult r = run_issue(window, cpus, **issuer, csrs, 1, batch);
  g_on.store(false);
  *made += r.made;
  out.failures = std::move(r.failures);
  out.certs = r.made;
  out.cpu_us = r.cpu_us;
  if (r.made == 0) return out;
  auto us = [&](Step s) {
    return static_cast<double>(g_ns[s].load()) / 1e3 / static_cast<double>(r.made);
  };
  out.total_us = r.batch_seconds * 1e6 / static_cast<double>(r.made);
  out.steps = {"parse CSR",    "verify CSR", "build", "sign", "re-verify",
               "serial check", "record",     "audit", "other"};
  out.us = {us(kParseCsr) - us(kVerifyCsr),
            us(kVerifyCsr),
            us(kBuild) - us(kSign) - us(kReverify),
            us(kSign),
            us(kReverify),
            us(kSerial),
            us(kRecord),
            us(kAudit)};
  double known = 0;
  for (double v : out.us) known += v;
  out.us.push_back(out.total_us - known);
  return out;
}

void print_breakdown(const std::vector<Breakdown>& rows, bool markdown) {
  if (rows.empty() || rows.front().steps.empty()) return;
  std::vector<std::vector<std::string>> table{{"step"}};
  for (const auto& r : rows) {
    table[0].push_back("B=" + std::to_string(r.batch) + " us/cert");
    table[0].push_back("share");
  }
  const auto& steps = rows.front().steps;
  for (size_t i = 0; i <= steps.size() + 1; ++i) {
    std::vector<std::string> line;
    line.push_back(i < steps.size() ? steps[i] : i == steps.size() ? "total (wall)" : "cpu");
    for (const auto& r : rows) {
      double v = i < steps.size() ? r.us[i] : i == steps.size() ? r.total_us : r.cpu_us;
      line.push_back(fmt(1, v));
      line.push_back(i < steps.size() && r.total_us > 0 ? fmt(0, 100 * v / r.total_us) + "%" : "");
    }
    table.push_back(std::move(line));
  }
  print_cells(table, markdown);
}

}  // namespace hwca::bench
