// EstService: how it refuses, and what it tells whom. A node that authenticated is refused
// on one audit line; a request that never authenticated, or one refused during an outage,
// is counted and summed up (rejection_summary.hpp); an outage is 503 with Retry-After and a
// short message, its cause and the operator's advice go to the log.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>

#include "common/text.hpp"
#include "est/est_service.hpp"

namespace hwca::est {
namespace {

constexpr const char* kRealm = "Basic realm=\"hwca EST\", charset=\"UTF-8\"";
constexpr const char* kRetryAfter = "30";

Reply plain(int status, const std::string& message) {
  Reply r;
  r.status = status;
  r.body = message + "\n";
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", kRealm);
  if (status == 503) r.headers.emplace_back("Retry-After", kRetryAfter);
  return r;
}

// What failed, as a metrics reason: "device" (the CA key's token or TPM; "token" is a
// bootstrap token's refusal), "database", "io" (the audit log, the disk), or "internal".
const char* outage_reason(const Error& e) {
  if (e.source == ErrorSource::database) return "database";
  if (e.source == ErrorSource::audit_log) return "io";
  switch (e.kind) {
    case ErrorKind::device:
    case ErrorKind::auth:
    // The CA key, found when the server started, not found now: its token lost it.
    case ErrorKind::not_found:
      return "device";
    case ErrorKind::io:
      return "io";
    default:
      return nullptr;
  }
}

}  // namespace

EstService::~EstService() {
  flush();
  issuer_.on_audit_error({});
}

void EstService::set_log(Log log) {
  if (log) {
    log_ = std::move(log);
    return;
  }
  log_ = [](const std::string& line) {
    static std::mutex mu;
    std::lock_guard lock(mu);
    std::cerr << "hwca serve: " << printable(line) << std::endl;
  };
}

void EstService::audit_failed(const Error& e, const std::string& what) {
  metrics_.audit_error();
  log_("cannot audit " + what + ": " + e.message);
}

void EstService::write_summary(const RejectionSummary::Summary& summary) {
  nlohmann::json data = summary.to_json();
  data["ca"] = issuer_.ca_name();
  if (auto ok = audit_.append("est.rejected.summary", data); !ok) {
    // The counts are not lost: they are in the metrics, and here.
    audit_failed(ok.error(), "the summary of refusals " + data.dump());
  }
}

void EstService::flush() {
  if (auto left = summary_.take()) write_summary(*left);
}

void EstService::count_summarised(const std::string& reason, const Caller& caller) {
  metrics_.rejected(reason);
  if (auto due = summary_.add(reason, caller.address)) write_summary(*due);
}

Reply EstService::refuse(int status, const std::string& reason, const std::string& message,
                         const std::string& label, const Caller& caller, const std::string& node) {
  metrics_.rejected(reason);
  const std::string said = bounded(message, 1024);
  if (auto ok = audit_.append("est.rejected", {{"ca", issuer_.ca_name()},
                                               {"label", bounded(label)},
                                               {"node", bounded(node)},
                                               {"reason", reason},
                                               {"message", said},
                                               {"peer", bounded(caller.address)}});
      !ok) {
    audit_failed(ok.error(), "the refusal of node '" + bounded(node) + "' (" + reason + ")");
  }
  return plain(status, said);
}

Reply EstService::refuse_unauthenticated(int status, const std::string& reason,
                                         const std::string& message, const Caller& caller) {
  count_summarised(reason, caller);
  return plain(status, bounded(message, 1024));
}

Reply EstService::failed(const Error& e, const Caller& caller, const std::string& node) {
  const std::string who =
      node.empty() ? "a request from " + bounded(caller.address) : "node '" + bounded(node) + "'";
  const char* reason = outage_reason(e);
  if (reason == nullptr) {
    metrics_.rejected("internal");
    log_("refused " + who + ": " + e.message);
    return plain(500, "the CA failed to handle the request; its operator has the details");
  }
  if (std::string(reason) == "device") metrics_.token_error();
  count_summarised(reason, caller);
  log_("refused " + who + " (503, " + reason + "): " + e.message);
  return plain(503, "the CA cannot issue now; retry later");
}

Reply EstService::healthz() {
  const auto start = std::chrono::steady_clock::now();
  if (auto ok = store_.ping(); !ok) {
    log_("health check: " + ok.error().message);
    return plain(503, "the CA cannot issue now: its issuance database cannot be read");
  }
  // How long the database took, not which it is: the check is open to anyone.
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.1f", took.count());
  return plain(200, std::string("ok: the issuance database answered in ") + ms + " ms");
}

}  // namespace hwca::est
