// hwca sign: issue one certificate from a CSR under a profile.
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "ca/ca_init.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/csr.hpp"
#include "ca/issuer.hpp"
#include "cli/context.hpp"
#include "cli/describe.hpp"
#include "cli/output.hpp"
#include "cli/output_files.hpp"
#include "cli/session.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"

namespace hwca::cli {
namespace {

struct SignArgs {
  std::string ca, profile, csr, out;
  int days = 0;
  bool chain = false;
  bool force = false;
  OutputFormat output = OutputFormat::text;
};

Result<std::string> read_csr(const std::string& path) {
  if (path != "-") return read_file(path, ca::kMaxCsrBytes + 1);
  // At most one byte past the limit: parse_csr then says it is too large.
  std::string data(ca::kMaxCsrBytes + 1, '\0');
  std::cin.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(std::cin.gcount()));
  return data;
}

int sign(const Context& ctx, const SignArgs& args) {
  auto session = Session::open(ctx, Session::Access::writable);
  if (!session) return report(session.error());
  const ca::Home& home = session->home();
  auto audit_trail = ca::open_audit(home);
  ca::AuditTrail& audit = *audit_trail;
  ca::SignRequest request;
  request.source = args.csr == "-" ? "standard input" : args.csr;
  request.profile = args.profile;
  if (args.days != 0) request.days = args.days;
  request.requester = cli_requester();
  auto refuse = [&](const Error& e) {
    (void)ca::audit_rejection(audit, args.ca, request, e);
    return report(e);
  };
  // Everything that can be checked without the CA's key comes first: a mistake in the
  // request, the profile, --days or the output is reported as itself, before any PIN.
  auto csr = read_csr(args.csr);
  if (!csr) return refuse(csr.error());
  request.csr = std::move(*csr);
  if (auto ok = check_output_file(args.out, args.force); !ok) return refuse(ok.error());

  auto store = session->open_store();
  if (!store) return refuse(store.error());
  auto crypto = session->open_crypto();
  if (!crypto) return report(crypto.error());
  auto issuer = ca::Issuer::open_unkeyed(home, **crypto, **store, args.ca);
  if (!issuer) return refuse(issuer.error());
  if (auto ok = (*issuer)->precheck(request); !ok) return report(ok.error());  // audited
  if (auto ok = (*issuer)->load_key(ctx.open_options()); !ok) return refuse(ok.error());
  auto issued = (*issuer)->issue(request);
  if (!issued) return report(issued.error());  // audited by the issuer

  std::string pem = ca::cert_pem(issued->cert.get());
  if (args.chain) {
    auto parents = ca::read_ca_chain_pem(home, args.ca);
    if (!parents) return report(parents.error());
    pem += *parents;
  }
  const auto& r = issued->record;
  if (issued->clipped) {
    std::cerr << "hwca: note: notAfter cut to CA '" << args.ca << "''s end, "
              << utc_text(r.not_after) << "\n";
  }
  // -o json|yaml: what was issued, with the certificate (and chain) as "pem".
  std::string document;
  if (args.output != OutputFormat::text) {
    nlohmann::json doc = issued_json(r, std::time(nullptr));
    doc["pem"] = pem;
    doc["out"] = args.out.empty() ? nlohmann::json(nullptr) : nlohmann::json(args.out);
    std::ostringstream text;
    print_output(text, args.output, doc, nullptr);
    document = text.str();
  }
  if (args.out.empty()) {
    std::cout << (document.empty() ? pem : document) << std::flush;
    if (!std::cout) {
      return report(Error{ErrorKind::io, "certificate " + r.serial +
                                             " was issued and recorded, but standard output "
                                             "failed; 'hwca cert show " +
                                             r.serial + " --pem' prints it"});
    }
    return 0;
  }
  if (auto ok = write_file_atomic(args.out, pem, 0644); !ok) {
    return report(Error{ok.error().kind, "certificate " + r.serial +
                                             " was issued and recorded, but " + ok.error().message +
                                             "; 'hwca cert show " + r.serial +
                                             " --pem' prints it"});
  }
  if (!document.empty()) {
    std::cout << document;
    return 0;
  }
  std::cout << "issued " << r.serial << " (" << r.profile << ") to " << printable(r.subject)
            << ", valid until " << utc_text(r.not_after) << ": " << args.out << "\n";
  return 0;
}

}  // namespace

void set_sign_command(CLI::App& app, Context& ctx, int& exit_code) {
  static SignArgs args;
  auto* cmd = app.add_subcommand(
      "sign",
      "issue a certificate for a CSR under a profile (server, client, peer, intermediate-ca, "
      "kubelet-client, kubelet-serving, kubelet-credential or one of the home's own); the CA's "
      "key signs in its token, the certificate is recorded in the issuance database and "
      "audited before it is written");
  cmd->add_option("--ca", args.ca, "the issuing CA (see 'hwca ca list')")
      ->required()
      ->type_name("NAME");
  cmd->add_option("--profile", args.profile,
                  "what the certificate may hold: server, client, peer, intermediate-ca, "
                  "kubelet-client, kubelet-serving, kubelet-credential, or a profile of the "
                  "home's config.yaml")
      ->required()
      ->type_name("NAME");
  cmd->add_option("--csr", args.csr, "the request, PEM or DER ('-': standard input)")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--days", args.days,
                  "validity in days (default the profile's; at most the profile's maximum, and "
                  "never past the CA's own end)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out", args.out,
                  "write the certificate here (atomically, mode 0644; an existing file only "
                  "with --force); default standard output")
      ->type_name("FILE");
  cmd->add_flag("--force", args.force,
                "replace an existing --out file (the old certificate stays valid until revoked)");
  cmd->add_flag("--chain", args.chain, "follow the certificate with the CA's chain");
  add_output_option(cmd, args.output);
  cmd->callback([&] { exit_code = sign(ctx, args); });
}

}  // namespace hwca::cli
