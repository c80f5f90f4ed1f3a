// hwca ek-roots add | list | remove: the certificates EK certificates must chain to when any
// is set (TPM makers' roots and intermediates, or swtpm-localca's), kept in the issuance
// database (src/ca/tpm_registry.hpp). A self-signed one is a trust anchor; any other is an
// intermediate, used only to build a path to an anchor. Every change is audited.
#include <openssl/x509v3.h>

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "ca/audit_trail.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/dn.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "cli/session.hpp"
#include "cli/table.hpp"
#include "common/text.hpp"

namespace hwca::cli {
namespace {

struct AddArgs {
  std::string file;
  OutputFormat output = OutputFormat::text;
};

struct RemoveArgs {
  std::string sha256;
  OutputFormat output = OutputFormat::text;
};

std::string root_sha256(const std::vector<uint8_t>& der) {
  return ca::sha256_hex(std::string_view(reinterpret_cast<const char*>(der.data()), der.size()));
}

std::string kind_of(const ca::EkRoot& r) { return r.anchor ? "anchor" : "intermediate"; }

// An EK root as the documents describe it.
nlohmann::json root_json(const ca::EkRoot& r) {
  return {{"sha256", r.sha256},
          {"kind", kind_of(r)},
          {"subject", r.subject},
          {"addedAt", rfc3339_text(r.added_at)},
          {"addedBy", r.added_by}};
}

int add(const Context& ctx, const AddArgs& args) {
  auto certs = ca::read_pem_certificates(args.file);
  if (!certs) return report(certs.error());
  auto session = open_with_store(ctx, Session::Access::writable);
  if (!session) return report(session.error());
  const ca::Home& home = session->home();
  ca::Database& store = session->store();
  auto present = store.ek_roots();
  if (!present) return report(present.error());
  std::set<std::string> known;
  for (const auto& r : *present) known.insert(r.sha256);

  // Every certificate is checked before any is stored.
  std::vector<ca::EkRoot> roots;
  const auto now = static_cast<int64_t>(std::time(nullptr));
  size_t index = 0;
  for (const auto& cert : *certs) {
    ++index;
    ca::EkRoot r;
    r.der = ca::cert_der(cert.get());
    r.sha256 = root_sha256(r.der);
    r.subject = ca::dn_text(X509_get_subject_name(cert.get()));
    const std::string which = printable(args.file) + " certificate " + std::to_string(index) +
                              " ('" + printable(r.subject) + "')";
    if ((X509_get_extension_flags(cert.get()) & EXFLAG_CA) == 0) {
      return report(Error{ErrorKind::usage,
                          which + " is not a CA certificate (no basicConstraints CA:TRUE)"});
    }
    r.anchor = X509_self_signed(cert.get(), /*verify_signature=*/1) == 1;
    ERR_clear_error();
    r.added_at = now;
    r.added_by = cli_requester();
    if (!known.insert(r.sha256).second) {
      return report(Error{ErrorKind::conflict, which + " is already an EK root (SHA-256 " +
                                                   r.sha256 + "); nothing was added"});
    }
    roots.push_back(std::move(r));
  }
  auto audit_trail = ca::open_audit(home);
  ca::AuditTrail& audit = *audit_trail;
  nlohmann::json added = nlohmann::json::array();
  for (const auto& r : roots) {
    if (auto ok = store.add_ek_root(r); !ok) return report(ok.error());
    nlohmann::json data = {
        {"sha256", r.sha256}, {"subject", r.subject}, {"anchor", r.anchor}, {"by", r.added_by}};
    if (auto ok = audit.append("ek_root.added", data); !ok) {
      // Not trusted unaudited: take it out again.
      bool removed = static_cast<bool>(store.remove_ek_root(r.sha256));
      return report(
          Error{ok.error().kind,
                "EK root " + r.sha256 +
                    " was not added: the audit log did not record "
                    "it (" +
                    ok.error().message + ")" +
                    (removed ? "" : "; remove it: 'hwca ek-roots remove " + r.sha256 + "'")});
    }
    added.push_back(root_json(r));
    if (args.output == OutputFormat::text) {
      std::cout << "added EK root " << r.sha256 << " (" << kind_of(r)
                << "): " << printable(r.subject) << "\n";
    }
  }
  if (args.output != OutputFormat::text) print_output(args.output, added, nullptr);
  return 0;
}

int list(const Context& ctx, OutputFormat output) {
  auto session = open_with_store(ctx, Session::Access::read_only);
  if (!session) return report(session.error());
  ca::Database& store = session->store();
  auto roots = store.ek_roots();
  if (!roots) return report(roots.error());
  nlohmann::json doc = nlohmann::json::array();
  std::vector<Row> rows;
  for (const auto& r : *roots) {
    rows.push_back({r.sha256, kind_of(r), printable(r.subject), utc_text(r.added_at)});
    doc.push_back(root_json(r));
  }
  print_output(output, doc, [&](std::ostream& out) {
    print_table(out, {"SHA-256", "KIND", "SUBJECT", "ADDED"}, rows);
  });
  return 0;
}

int remove(const Context& ctx, const RemoveArgs& args) {
  auto session = open_with_store(ctx, Session::Access::writable);
  if (!session) return report(session.error());
  const ca::Home& home = session->home();
  ca::Database& store = session->store();
  auto roots = store.ek_roots();
  if (!roots) return report(roots.error());
  const ca::EkRoot* found = nullptr;
  for (const auto& r : *roots) {
    if (r.sha256 == args.sha256) found = &r;
  }
  if (found == nullptr) {
    return report(Error{ErrorKind::not_found, "no EK root has SHA-256 '" + printable(args.sha256) +
                                                  "' (see 'hwca ek-roots list')"});
  }
  if (auto ok = store.remove_ek_root(args.sha256); !ok) return report(ok.error());
  auto audit_trail = ca::open_audit(home);
  ca::AuditTrail& audit = *audit_trail;
  nlohmann::json data = {
      {"sha256", found->sha256}, {"subject", found->subject}, {"by", cli_requester()}};
  if (auto ok = audit.append("ek_root.removed", data); !ok) {
    // The removal stands: fewer EK certificates are trusted, the safe side.
    return report(Error{ok.error().kind, "EK root " + found->sha256 +
                                             " is removed from the issuance database, but the "
                                             "audit log did not record it: " +
                                             ok.error().message});
  }
  print_output(args.output, root_json(*found), [&](std::ostream& out) {
    out << "removed EK root " << found->sha256 << ": " << printable(found->subject) << "\n";
  });
  return 0;
}

}  // namespace

void set_ek_roots_command(CLI::App& app, Context& ctx, int& exit_code) {
  auto* roots = app.add_subcommand(
      "ek-roots",
      "the EK roots: when any is set, an EK certificate given to 'hwca node register' or "
      "'hwca node import' must chain to a self-signed one (the trust anchors), through the "
      "others (intermediates); every change is audited");
  roots->require_subcommand(1);

  static AddArgs add_args;
  auto* add_cmd = roots->add_subcommand(
      "add",
      "add the CA certificates of a PEM file (a TPM maker's root and intermediates, or "
      "swtpm-localca's); self-signed ones are trust anchors, others intermediates. All or "
      "nothing: one that is not a CA, or already present, adds none");
  add_cmd->add_option("file", add_args.file, "PEM file of one or several certificates")
      ->required()
      ->type_name("FILE");
  add_output_option(add_cmd, add_args.output);
  add_cmd->callback([&] { exit_code = add(ctx, add_args); });

  auto* list_cmd = roots->add_subcommand(
      "list", "list the EK roots: SHA-256 of the certificate, anchor or intermediate, subject");
  static OutputFormat list_output = OutputFormat::text;
  add_output_option(list_cmd, list_output);
  list_cmd->callback([&] { exit_code = list(ctx, list_output); });

  static RemoveArgs remove_args;
  auto* remove_cmd =
      roots->add_subcommand("remove", "remove an EK root; registered nodes stay registered");
  remove_cmd
      ->add_option("sha256", remove_args.sha256,
                   "the certificate's SHA-256 as 'hwca ek-roots list' shows it")
      ->required()
      ->type_name("SHA256");
  add_output_option(remove_cmd, remove_args.output);
  remove_cmd->callback([&] { exit_code = remove(ctx, remove_args); });
}

}  // namespace hwca::cli
