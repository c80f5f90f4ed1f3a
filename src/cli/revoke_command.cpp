// hwca revoke | hwca crl
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "ca/ca_init.hpp"
#include "ca/revocation.hpp"
#include "cli/context.hpp"
#include "cli/describe.hpp"
#include "cli/output.hpp"
#include "cli/output_files.hpp"
#include "cli/session.hpp"
#include "common/base64.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"

namespace hwca::cli {
namespace {

struct RevokeArgs {
  std::string ca, serial, reason = "unspecified";
  bool with_renewals = false;
  OutputFormat output = OutputFormat::text;
};

struct CrlArgs {
  std::string ca, out;
  int days = ca::kDefaultCrlDays;
  bool der = false;
  OutputFormat output = OutputFormat::text;
};

// The home, with CA `name` in it: an unknown CA is refused before the issuance database is
// opened (and so never created by a mistyped name).
Result<Session> home_with_ca(const Context& ctx, const std::string& name) {
  auto session = Session::open(ctx, Session::Access::writable);
  if (!session) return tl::unexpected(session.error());
  if (auto cert = ca::load_ca_cert(session->home(), name); !cert) {
    return tl::unexpected(cert.error());
  }
  return session;
}

// -o json|yaml: {ca, reason, reasonCode, revoked: [the certificates as the database now
// holds them]}.
int print_revoked(ca::IssuanceStore& store, const RevokeArgs& args,
                  const std::vector<std::string>& serials, int reason) {
  nlohmann::json revoked = nlohmann::json::array();
  const auto now = std::time(nullptr);
  for (const auto& serial : serials) {
    auto found = store.find(args.ca, serial);
    if (!found) return report(found.error());
    if (*found) revoked.push_back(issued_json(**found, now));
  }
  print_output(args.output,
               {{"ca", args.ca},
                {"reason", ca::crl_reason_name(reason)},
                {"reasonCode", reason},
                {"revoked", revoked}},
               nullptr);
  return 0;
}

int revoke(const Context& ctx, const RevokeArgs& args) {
  auto reason = ca::parse_crl_reason(args.reason);
  if (!reason) return report(reason.error());
  auto serial = ca::normalise_serial(args.serial);
  if (!serial) return report(serial.error());
  // Messages name the serial as typed (and as stored, when that differs: "deadbeef" is
  // stored as "00deadbeef").
  const std::string label = ca::serial_label(args.serial, *serial);
  auto session = home_with_ca(ctx, args.ca);
  if (!session) return report(session.error());
  ca::Home& home = session->home();
  auto store = session->open_store();
  if (!store) return report(store.error());
  if (args.with_renewals) {
    auto revoked =
        ca::revoke_with_renewals(home, **store, args.ca, args.serial, *reason, cli_requester());
    if (!revoked) return report(revoked.error());
    if (args.output != OutputFormat::text) {
      std::vector<std::string> serials;
      for (const auto& c : *revoked) serials.push_back(c.serial);
      return print_revoked(**store, args, serials, *reason);
    }
    size_t renewals = 0;
    for (const auto& c : *revoked) {
      std::cout << "revoked " << (c.serial == *serial ? label : c.serial) << " ("
                << ca::crl_reason_name(*reason) << ")";
      if (c.serial != *serial) {
        ++renewals;
        std::cout << ", renewed from " << c.renewed_from;
      }
      std::cout << "\n";
    }
    std::cout << revoked->size() << " certificate(s) revoked: " << renewals
              << " issued by renewal from " << label
              << (renewals == revoked->size() ? " (itself already revoked)" : "") << "\n";
    return 0;
  }
  if (auto ok =
          ca::revoke_certificate(home, **store, args.ca, args.serial, *reason, cli_requester());
      !ok) {
    return report(ok.error());
  }
  if (args.output != OutputFormat::text) return print_revoked(**store, args, {*serial}, *reason);
  std::cout << "revoked " << label << " (" << ca::crl_reason_name(*reason) << ")\n";
  return 0;
}

// Refuse before signing what would keep the CRL from being handed out.
Status check_output(const CrlArgs& args) {
  if (args.out.empty()) {
    if (args.der && args.output == OutputFormat::text && ::isatty(STDOUT_FILENO) == 1) {
      return fail(ErrorKind::usage, "--der writes binary: give --out FILE or redirect the output");
    }
    return {};
  }
  return check_output_folder(args.out);
}

int crl(const Context& ctx, const CrlArgs& args) {
  if (auto ok = check_output(args); !ok) return report(ok.error());
  auto session = home_with_ca(ctx, args.ca);
  if (!session) return report(session.error());
  auto store = session->open_store();
  if (!store) return report(store.error());
  auto crypto = session->open_crypto();
  if (!crypto) return report(crypto.error());
  auto made = ca::publish_crl(session->home(), **store, **crypto, args.ca, ctx.open_options(),
                              args.days, cli_requester());
  if (!made) return report(made.error());
  auto data = ca::encode_crl(made->crl.get(), args.der);
  if (!data) return report(data.error());
  const std::string what = "CRL #" + std::to_string(made->number) + " of CA '" + args.ca + "'";
  // -o json|yaml: the CRL described, with itself as "pem" (or "der", base64).
  std::string document;
  if (args.output != OutputFormat::text) {
    nlohmann::json doc = crl_json(made->crl.get());
    doc["ca"] = args.ca;
    doc["out"] = args.out.empty() ? nlohmann::json(nullptr) : nlohmann::json(args.out);
    if (args.der) {
      doc["der"] = base64_encode(*data);
    } else {
      doc["pem"] = *data;
    }
    std::ostringstream text;
    print_output(text, args.output, doc, nullptr);
    document = text.str();
  }
  if (args.out.empty()) {
    std::cout << (document.empty() ? *data : document) << std::flush;
    if (!std::cout) {
      return report(Error{ErrorKind::io, what + " was signed and audited, but standard output "
                                                "failed; run 'hwca crl' again for a new one"});
    }
    return 0;
  }
  if (auto ok = write_file_atomic(args.out, *data, 0644); !ok) {
    return report(Error{ok.error().kind, what + " was signed and audited, but " +
                                             ok.error().message +
                                             "; run 'hwca crl' again for a new one"});
  }
  if (!document.empty()) {
    std::cout << document;
    return 0;
  }
  std::cout << what << ": " << made->entries << " revoked, next update "
            << utc_text(made->next_update) << ", written to " << args.out << "\n";
  return 0;
}

}  // namespace

void set_revoke_command(CLI::App& app, Context& ctx, int& exit_code) {
  static RevokeArgs revoke_args;
  auto* revoke_cmd = app.add_subcommand(
      "revoke",
      "revoke a certificate the CA issued: marked in the issuance database and audited; the "
      "CA's next CRL ('hwca crl') lists it");
  revoke_cmd->add_option("--ca", revoke_args.ca, "the CA that issued it (see 'hwca ca list')")
      ->required()
      ->type_name("NAME");
  revoke_cmd
      ->add_option("serial", revoke_args.serial,
                   "the certificate's serial number in hex, with or without colons, any case "
                   "(as 'hwca cert list' or 'openssl x509 -serial' print it)")
      ->required()
      ->type_name("SERIAL");
  revoke_cmd
      ->add_option("--reason", revoke_args.reason,
                   "RFC 5280 reason, by name (any case) or number: unspecified (0, the default), "
                   "keyCompromise (1), cACompromise (2), affiliationChanged (3), superseded (4), "
                   "cessationOfOperation (5), certificateHold (6), privilegeWithdrawn (9), "
                   "aACompromise (10)")
      ->type_name("REASON");
  revoke_cmd->add_flag("--with-renewals", revoke_args.with_renewals,
                       "also revoke, transitively, every certificate issued by renewal from it "
                       "(EST simplereenroll authenticated by it), in one transaction, each "
                       "audited; those already revoked are left as they were");
  add_output_option(revoke_cmd, revoke_args.output);
  revoke_cmd->callback([&] { exit_code = revoke(ctx, revoke_args); });

  static CrlArgs crl_args;
  auto* crl_cmd = app.add_subcommand(
      "crl",
      "sign a new CRL (X.509 v2) of everything the CA revoked, with its key in the token: "
      "the next CRL number, authorityKeyIdentifier, a reason code per entry; audited");
  crl_cmd->add_option("--ca", crl_args.ca, "the CA whose CRL this is (see 'hwca ca list')")
      ->required()
      ->type_name("NAME");
  crl_cmd
      ->add_option("--days", crl_args.days,
                   "days until nextUpdate, when relying parties expect the next CRL (default 7; "
                   "never past the CA certificate's end)")
      ->type_name("N")
      ->check(CLI::Range(1, 3650));
  crl_cmd
      ->add_option("--out", crl_args.out,
                   "write the CRL here (atomically, mode 0644) and print a summary; default: "
                   "the CRL alone on standard output")
      ->type_name("FILE");
  crl_cmd->add_flag("--der", crl_args.der, "DER instead of PEM");
  add_output_option(crl_cmd, crl_args.output);
  crl_cmd->callback([&] { exit_code = crl(ctx, crl_args); });
}

}  // namespace hwca::cli
