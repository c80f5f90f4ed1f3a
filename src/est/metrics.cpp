#include "est/metrics.hpp"

#include <cmath>
#include <cstdio>

namespace hwca::est {
namespace {

// Label values come from the server's own fixed sets, but escape them anyway.
std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void family(std::string& out, const char* name, const char* help, const char* type) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

Metrics::Counter& Metrics::counter(std::map<std::string, std::unique_ptr<Counter>>& f,
                                   const std::string& key) {
  std::lock_guard lock(mu_);
  auto& slot = f[key];
  if (!slot) slot = std::make_unique<Counter>(0);
  return *slot;
}

void Metrics::request(const std::string& endpoint, int code) {
  counter(requests_, endpoint + "\n" + std::to_string(code))
      .fetch_add(1, std::memory_order_relaxed);
}

void Metrics::issued(const std::string& label) {
  counter(issued_, label).fetch_add(1, std::memory_order_relaxed);
}

void Metrics::rejected(const std::string& reason) {
  counter(rejected_, reason).fetch_add(1, std::memory_order_relaxed);
}

void Metrics::connection_dropped(const std::string& reason) {
  counter(dropped_, reason).fetch_add(1, std::memory_order_relaxed);
}

void Metrics::Histogram::observe(double seconds) {
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      buckets[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
  count.fetch_add(1, std::memory_order_relaxed);
  sum_micros.fetch_add(static_cast<uint64_t>(std::llround(seconds * 1e6)),
                       std::memory_order_relaxed);
}

void Metrics::Histogram::write(std::string& out, const char* name, const char* help) const {
  family(out, name, help, "histogram");
  const std::string n = name;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    cumulative += buckets[i].load();
    char le[32];
    std::snprintf(le, sizeof le, "%g", kBuckets[i]);
    out += n + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  const uint64_t total = count.load();
  char sum[64];
  std::snprintf(sum, sizeof sum, "%.6f", static_cast<double>(sum_micros.load()) / 1e6);
  out += n + "_bucket{le=\"+Inf\"} " + std::to_string(total) + "\n";
  out += n + "_sum " + sum + "\n";
  out += n + "_count " + std::to_string(total) + "\n";
}

std::string Metrics::text() const {
  std::string out;
  std::lock_guard lock(mu_);
  family(out, "hwca_est_requests_total", "EST and service requests answered.", "counter");
  for (const auto& [key, n] : requests_) {
    auto nl = key.find('\n');
    out += "hwca_est_requests_total{endpoint=\"" + label_value(key.substr(0, nl)) + "\",code=\"" +
           key.substr(nl + 1) + "\"} " + std::to_string(n->load()) + "\n";
  }
  family(out, "hwca_est_issued_total", "Certificates issued and handed out.", "counter");
  for (const auto& [label, n] : issued_) {
    out += "hwca_est_issued_total{label=\"" + label_value(label) + "\"} " +
           std::to_string(n->load()) + "\n";
  }
  family(out, "hwca_est_rejected_total", "Enrollments refused, by reason.", "counter");
  for (const auto& [reason, n] : rejected_) {
    out += "hwca_est_rejected_total{reason=\"" + label_value(reason) + "\"} " +
           std::to_string(n->load()) + "\n";
  }
  family(out, "hwca_est_connections_dropped_total",
         "Connections closed by a limit: per_client, queue_full or deadline.", "counter");
  for (const auto& [reason, n] : dropped_) {
    out += "hwca_est_connections_dropped_total{reason=\"" + label_value(reason) + "\"} " +
           std::to_string(n->load()) + "\n";
  }
  family(out, "hwca_est_token_errors_total",
         "Failures of the token holding the CA key while signing.", "counter");
  out += "hwca_est_token_errors_total " + std::to_string(token_errors_.load()) + "\n";
  family(out, "hwca_est_audit_errors_total",
         "Audit lines of refusals (or of their summary) that could not be written.", "counter");
  out += "hwca_est_audit_errors_total " + std::to_string(audit_errors_.load()) + "\n";
  signing_.write(out, "hwca_est_signing_seconds",
                 "Time to sign, record and audit one certificate.");
  database_.write(out, "hwca_database_seconds", "Time of one call into the issuance database.");
  family(out, "hwca_database_errors_total",
         "Calls into the issuance database that failed for the database's sake.", "counter");
  out += "hwca_database_errors_total " + std::to_string(database_errors_.load()) + "\n";
  return out;
}

}  // namespace hwca::est
