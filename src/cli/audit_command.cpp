// hwca audit verify
#include <unistd.h>

#include <iostream>
#include <set>
#include <tuple>

#include "ca/audit_trail.hpp"
#include "ca/database.hpp"
#include "ca/home.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "cli/session.hpp"
#include "common/text.hpp"

namespace hwca::cli {
namespace {

using CertKey = std::pair<std::string, std::string>;  // (issuing CA, serial)

// What the log accounts for.
struct Audited {
  std::set<CertKey> certs;                               // cert.issued, ca.created
  std::set<CertKey> revoked;                             // cert.revoked
  std::set<std::string> tokens_created, tokens_revoked;  // bootstrap.created, .revoked
  // node.registered: (node, EK SHA-256, addresses joined by ",")
  std::set<std::tuple<std::string, std::string, std::string>> tpms;
  std::set<std::string> ek_roots;  // ek_root.added: SHA-256
};

std::string text_of(const nlohmann::json& data, const char* key) {
  return data.is_object() && data.contains(key) && data[key].is_string()
             ? data[key].get<std::string>()
             : std::string();
}

void account(const nlohmann::json& line, Audited& a) {
  const std::string event = line["event"];
  const nlohmann::json data = line.contains("data") ? line["data"] : nlohmann::json::object();
  const std::string ca = text_of(data, "ca"), serial = text_of(data, "serial");
  // A root is recorded under itself, an intermediate under its parent.
  if (event == "cert.issued" && !serial.empty()) a.certs.insert({ca, serial});
  if (event == "ca.created" && !serial.empty()) {
    const std::string parent = text_of(data, "parent");
    a.certs.insert({parent.empty() ? ca : parent, serial});
  }
  if (event == "cert.revoked" && !serial.empty()) a.revoked.insert({ca, serial});
  if (event == "bootstrap.created") a.tokens_created.insert(text_of(data, "id"));
  if (event == "bootstrap.revoked") a.tokens_revoked.insert(text_of(data, "id"));
  if (event == "node.registered") {
    // Lines of hwca before the addresses (schema version 5) have none.
    std::vector<std::string> addresses;
    if (data.is_object() && data.contains("addresses") && data["addresses"].is_array()) {
      for (const auto& ip : data["addresses"]) {
        addresses.push_back(ip.is_string() ? ip.get<std::string>() : "?");
      }
    }
    a.tpms.insert({text_of(data, "node"), text_of(data, "ek_sha256"), join(addresses, ",")});
  }
  if (event == "ek_root.added") a.ek_roots.insert(text_of(data, "sha256"));
}

// What the issuance database holds, as the check counted it.
struct Counts {
  size_t certs = 0, revoked = 0, tokens = 0, tpms = 0, ek_roots = 0;
  size_t accounted_by_revocation = 0;   // no cert.issued line, but revoked (never handed out)
  size_t unaudited_revoked_tokens = 0;  // no bootstrap.created line, but revoked unused
};

void print_counts(const std::string& db_path, const Counts& n,
                  const std::vector<std::string>& problems);

std::string cert_name(const CertKey& k) {
  return "certificate " + printable(k.second) + " of CA '" + printable(k.first) + "'";
}

// The database against the log, both ways: every certificate, revocation, bootstrap
// token, registered TPM (node.registered for that node and EK) and EK root (ek_root.added)
// the database holds must have its line (a certificate recorded but never audited,
// which a run that failed between the two leaves, is accounted for once it is revoked), and
// every certificate and revocation the log records must be in the database. Problems are
// listed on standard output; the first one is the error.
//
// With -o json|yaml the whole outcome is one document ({auditLog, events, head, database,
// ..., problems}), printed before the error if there are problems.
int cross_check(Session& session, const Audited& a, OutputFormat output, nlohmann::json doc) {
  const ca::Home& home = session.home();
  const std::string db_path = home.database_target();
  doc["database"] = nullptr;
  doc["problems"] = nlohmann::json::array();
  if (!ca::is_postgresql_url(db_path) && ::access(db_path.c_str(), F_OK) != 0 && a.certs.empty() &&
      a.tokens_created.empty() && a.tpms.empty() && a.ek_roots.empty()) {
    if (output != OutputFormat::text) print_output(output, doc, nullptr);
    return 0;
  }
  auto store = session.open_store();
  if (!store) return report(store.error());
  auto rows = (*store)->list(std::nullopt, std::nullopt);
  if (!rows) return report(rows.error());
  auto tokens = (*store)->tokens();
  if (!tokens) return report(tokens.error());
  auto tpms = (*store)->tpms();
  if (!tpms) return report(tpms.error());
  auto ek_roots = (*store)->ek_roots();
  if (!ek_roots) return report(ek_roots.error());

  std::vector<std::string> problems;
  std::set<CertKey> recorded, recorded_revoked;
  size_t accounted_by_revocation = 0;
  for (const auto& r : *rows) {
    const CertKey key{r.ca, r.serial};
    recorded.insert(key);
    if (r.revoked) recorded_revoked.insert(key);
    const bool issued = a.certs.count(key) != 0, revoked = a.revoked.count(key) != 0;
    if (!issued && !revoked) {
      problems.push_back(cert_name(key) + " (" + printable(r.subject) +
                         ") is in the issuance database, but no audit line accounts for it "
                         "(if it was never handed out, revoke it: 'hwca revoke --ca " +
                         printable(r.ca) + " " + printable(r.serial) + "')");
    } else if (!issued) {
      ++accounted_by_revocation;
    }
    if (r.revoked && !revoked) {
      problems.push_back("the revocation of " + cert_name(key) +
                         " is in the issuance database, but the audit log has no cert.revoked "
                         "line for it: the log was cut, or the database altered");
    }
  }
  // Un-revoking a certificate in the database would bring a compromised key back to life.
  for (const auto& r : a.revoked) {
    if (recorded_revoked.count(r) == 0) {
      problems.push_back("the audit log records the revocation of " + cert_name(r) +
                         ", but the issuance database does not show it revoked: the database "
                         "was altered");
    }
  }
  for (const auto& c : a.certs) {
    if (recorded.count(c) == 0) {
      problems.push_back("the audit log records " + cert_name(c) +
                         ", which the issuance database does not hold: rows were removed or the "
                         "database was replaced");
    }
  }
  size_t unaudited_revoked_tokens = 0;
  for (const auto& t : *tokens) {
    if (a.tokens_created.count(t.id) != 0) continue;
    // 'hwca bootstrap create' revokes a token whose line it could not write: harmless.
    if (t.revoked_at != 0 && t.used_at == 0) {
      ++unaudited_revoked_tokens;
      continue;
    }
    problems.push_back("bootstrap token '" + printable(t.id) + "' for node '" + printable(t.node) +
                       "' is in the issuance database, but the audit log has no "
                       "bootstrap.created line for it: it was not made by 'hwca bootstrap "
                       "create', or the log was cut");
  }

  for (const auto& t : *tpms) {
    if (a.tpms.count({t.node, t.ek_sha256, join(t.addresses, ",")}) != 0) continue;
    problems.push_back("the TPM of node '" + printable(t.node) + "' (EK SHA-256 " +
                       printable(t.ek_sha256) + ", addresses " +
                       (t.addresses.empty() ? "none" : printable(join(t.addresses))) +
                       ") is in the issuance database, but the audit log has no node.registered "
                       "line for it with those addresses: it was not registered by 'hwca node', "
                       "or the log was cut");
  }
  for (const auto& r : *ek_roots) {
    if (a.ek_roots.count(r.sha256) != 0) continue;
    problems.push_back("EK root " + printable(r.sha256) + " (" + printable(r.subject) +
                       ") is in the issuance database, but the audit log has no ek_root.added "
                       "line for it: it was not added by 'hwca ek-roots add', or the log was cut");
  }

  const Counts n{recorded.size(),  recorded_revoked.size(), tokens->size(),          tpms->size(),
                 ek_roots->size(), accounted_by_revocation, unaudited_revoked_tokens};
  if (output != OutputFormat::text) {
    doc["database"] = {{"path", (*store)->describe()},
                       {"certificates", n.certs},
                       {"revoked", n.revoked},
                       {"bootstrapTokens", n.tokens},
                       {"nodeTpms", n.tpms},
                       {"ekRoots", n.ek_roots},
                       {"revokedWithoutIssuedLine", n.accounted_by_revocation},
                       {"tokensRevokedWithoutCreatedLine", n.unaudited_revoked_tokens}};
    doc["problems"] = problems;
    print_output(output, doc, nullptr);
  } else {
    print_counts((*store)->describe(), n, problems);
  }
  if (problems.empty()) return 0;
  std::string first = problems.front();
  if (problems.size() > 1) {
    first += " (and " + std::to_string(problems.size() - 1) +
             " more problems, listed on standard output)";
  }
  return report(Error{ErrorKind::conflict, first});
}

void print_counts(const std::string& db_path, const Counts& n,
                  const std::vector<std::string>& problems) {
  std::cout << "issuance database " << db_path << ": " << n.certs << " certificates (" << n.revoked
            << " revoked), " << n.tokens << " bootstrap tokens, " << n.tpms << " node TPMs, "
            << n.ek_roots << " EK roots\n";
  if (n.accounted_by_revocation > 0) {
    std::cout << n.accounted_by_revocation
              << " certificates have no cert.issued line but were revoked (never handed out)\n";
  }
  if (n.unaudited_revoked_tokens > 0) {
    std::cout << n.unaudited_revoked_tokens
              << " bootstrap tokens have no bootstrap.created line but were revoked unused\n";
  }
  if (problems.empty()) {
    std::cout << "every certificate, revocation and bootstrap token is accounted for, and every "
                 "node TPM and EK root\n";
  }
  for (const auto& p : problems) std::cout << "unaccounted: " << p << "\n";
}

int verify(const Context& ctx, OutputFormat output) {
  auto session = Session::open(ctx, Session::Access::read_only);
  if (!session) return report(session.error());
  const ca::Home& home = session->home();
  auto trail = ca::open_audit(home);
  // The file's path, or (a chain kept in PostgreSQL) what names the database.
  const std::string path = ca::is_postgresql_url(home.config().database)
                               ? trail->describe()
                               : home.path(home.config().audit_log);
  Audited audited;
  auto summary = trail->check_chain([&](const nlohmann::json& line) { account(line, audited); });
  if (!summary) return report(summary.error());
  if (output == OutputFormat::text) {
    std::cout << trail->describe() << ": " << summary->lines
              << " events, the hash chain is intact\nhead: " << summary->head << "\n";
  }
  return cross_check(*session, audited, output,
                     {{"auditLog", path}, {"events", summary->lines}, {"head", summary->head}});
}

}  // namespace

void set_audit_command(CLI::App& app, Context& ctx, int& exit_code) {
  auto* audit = app.add_subcommand("audit", "check the CA home's audit log");
  audit->require_subcommand(1);
  auto* verify_cmd = audit->add_subcommand(
      "verify",
      "check the audit log's hash chain (exit 6 naming the first line that breaks it), and "
      "the issuance database against it both ways: every certificate, revocation, "
      "bootstrap token, node TPM and EK root of the database must have its line, and every "
      "certificate and "
      "revocation of the log must be in the database (exit 6, listing what is not)");
  static OutputFormat output = OutputFormat::text;
  add_output_option(verify_cmd, output);
  verify_cmd->callback([&] { exit_code = verify(ctx, output); });
}

}  // namespace hwca::cli
