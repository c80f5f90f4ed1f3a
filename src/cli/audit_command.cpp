// hwca audit verify
#include <unistd.h>

#include <iostream>
#include <set>

#include "ca/audit_log.hpp"
#include "ca/home.hpp"
#include "cli/context.hpp"

namespace hwca::cli {
namespace {

using CertKey = std::pair<std::string, std::string>;  // (issuing CA, serial)

// The certificates the log says were made: cert.issued lines, and ca.created lines (a root
// is recorded under itself, an intermediate under its parent).
CertKey audited_cert(const nlohmann::json& line) {
  const auto& event = line["event"];
  const auto& data = line.contains("data") ? line["data"] : nlohmann::json::object();
  auto text = [&](const char* k) {
    return data.contains(k) && data[k].is_string() ? data[k].get<std::string>() : std::string();
  };
  if (event == "cert.issued") return {text("ca"), text("serial")};
  if (event == "ca.created") {
    std::string parent = text("parent");
    return {parent.empty() ? text("ca") : parent, text("serial")};
  }
  return {};
}

// Every audited certificate must be in the database; a recorded one without its line was
// never handed out (a run stopped between recording and auditing): a note, not a failure.
int cross_check(const ca::Home& home, const std::set<CertKey>& audited,
                const std::set<CertKey>& revoked) {
  if (::access(home.path(home.config().database).c_str(), F_OK) != 0 && audited.empty()) {
    return 0;
  }
  auto store = open_issuance_store(home, /*read_only=*/true);
  if (!store) return report(store.error());
  auto rows = (*store)->list(std::nullopt, std::nullopt);
  if (!rows) return report(rows.error());
  std::set<CertKey> recorded, recorded_revoked;
  for (const auto& r : *rows) {
    recorded.insert({r.ca, r.serial});
    if (r.revoked) recorded_revoked.insert({r.ca, r.serial});
  }
  // Un-revoking a certificate in the database would bring a compromised key back to life.
  for (const auto& r : revoked) {
    if (recorded_revoked.count(r) == 0) {
      return report(Error{ErrorKind::conflict,
                          "the audit log records the revocation of certificate " + r.second +
                              " of CA '" + r.first +
                              "', but the issuance database does not show it revoked: the "
                              "database was altered"});
    }
  }
  for (const auto& a : audited) {
    if (recorded.count(a) == 0) {
      return report(Error{ErrorKind::conflict,
                          "the audit log records certificate " + a.second + " of CA '" + a.first +
                              "', which the issuance database does not hold: rows were "
                              "removed or the database was replaced"});
    }
  }
  size_t unaudited = 0;
  for (const auto& r : recorded) {
    if (audited.count(r) == 0) {
      ++unaudited;
      std::cerr << "hwca: note: certificate " << r.second << " of CA '" << r.first
                << "' is recorded but has no audit line (the run stopped before auditing "
                   "it; it was never handed out)\n";
    }
  }
  std::cout << "issuance database " << home.path(home.config().database) << ": " << recorded.size()
            << " certificates, "
            << (unaudited == 0 ? std::string("each with its audit line")
                               : std::to_string(unaudited) + " without an audit line")
            << "\n";
  return 0;
}

int verify(const Context& ctx) {
  auto home = ca::Home::open(ca::resolve_home(ctx.home), /*create=*/false);
  if (!home) return report(home.error());
  std::string path = home->path(home->config().audit_log);
  std::set<CertKey> audited, revoked;
  auto summary = ca::AuditLog::verify(path, [&](const nlohmann::json& line) {
    if (auto key = audited_cert(line); !key.second.empty()) audited.insert(key);
    if (line["event"] == "cert.revoked" && line.contains("data")) {
      const auto& d = line["data"];
      if (d.contains("ca") && d["ca"].is_string() && d.contains("serial") &&
          d["serial"].is_string()) {
        revoked.insert({d["ca"].get<std::string>(), d["serial"].get<std::string>()});
      }
    }
  });
  if (!summary) return report(summary.error());
  std::cout << "audit log " << path << ": " << summary->lines
            << " events, the hash chain is intact\nhead: " << summary->head << "\n";
  return cross_check(*home, audited, revoked);
}

}  // namespace

void set_audit_command(CLI::App& app, Context& ctx, int& exit_code) {
  auto* audit = app.add_subcommand("audit", "check the CA home's audit log");
  audit->require_subcommand(1);
  auto* verify_cmd = audit->add_subcommand(
      "verify",
      "check the audit log's hash chain (exit 6 naming the first line that breaks it) and "
      "that every certificate and revocation it records is in the issuance database");
  verify_cmd->callback([&] { exit_code = verify(ctx); });
}

}  // namespace hwca::cli
