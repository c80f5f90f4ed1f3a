// hwca cert list | show: what the issuance database holds.
#include <cctype>
#include <charconv>
#include <iomanip>
#include <iostream>

#include "ca/certificate_builder.hpp"
#include "ca/serial.hpp"
#include "cli/context.hpp"
#include "cli/describe.hpp"
#include "cli/output.hpp"
#include "cli/session.hpp"
#include "cli/table.hpp"
#include "common/text.hpp"

namespace hwca::cli {
namespace {

struct CertArgs {
  std::string ca, expiring, serial;
  bool pem = false;
  OutputFormat output = OutputFormat::text;
};

// "30d", "12h", "2w" or a plain number of days, in seconds. The number is taken as strtoll
// takes one: leading white space and a sign allowed, a number out of range refused.
Result<int64_t> parse_duration(const std::string& text) {
  const char* begin = text.data();
  const char* const end = text.data() + text.size();
  while (begin != end && std::isspace(static_cast<unsigned char>(*begin)) != 0) ++begin;
  if (end - begin > 1 && *begin == '+' && std::isdigit(static_cast<unsigned char>(begin[1])) != 0) {
    ++begin;
  }
  long long n = -1;
  size_t used = 0;
  if (auto [ptr, ec] = std::from_chars(begin, end, n); ec == std::errc()) {
    used = static_cast<size_t>(ptr - text.data());
  } else {
    n = -1;
  }
  std::string unit = used < text.size() ? text.substr(used) : "d";
  int64_t scale = unit == "d" ? 86400 : unit == "h" ? 3600 : unit == "w" ? 7 * 86400 : 0;
  if (n < 0 || scale == 0 || n > 100000) {
    return fail(ErrorKind::usage, "--expiring takes a duration such as 30d, 12h or 2w, not '" +
                                      printable(text) + "'");
  }
  return static_cast<int64_t>(n) * scale;
}

int list(const Context& ctx, const CertArgs& args) {
  auto session = Session::open(ctx, Session::Access::read_only);
  if (!session) return report(session.error());
  const ca::Home& home = session->home();
  if (!args.ca.empty() && home.config().cas.count(args.ca) == 0) {
    return report(Error{ErrorKind::not_found, "no CA named '" + printable(args.ca) + "' in " +
                                                  home.dir() + " (see 'hwca ca list')"});
  }
  int64_t now = std::time(nullptr);
  std::optional<int64_t> before;
  if (!args.expiring.empty()) {
    auto d = parse_duration(args.expiring);
    if (!d) return report(d.error());
    before = now + *d;
  }
  auto store = session->open_store();
  if (!store) return report(store.error());
  auto certs = (*store)->list(args.ca.empty() ? std::nullopt : std::optional(args.ca), before);
  if (!certs) return report(certs.error());
  nlohmann::json doc = nlohmann::json::array();
  if (args.output != OutputFormat::text) {
    for (const auto& c : *certs) doc.push_back(issued_json(c, now));
  }
  print_output(args.output, doc, [&](std::ostream& out) {
    std::vector<Row> rows;
    for (const auto& c : *certs) {
      rows.push_back({c.serial, c.ca, c.profile, issued_status(c, now), utc_text(c.not_after),
                      printable(c.subject)});
    }
    print_table(out, {"SERIAL", "CA", "PROFILE", "STATUS", "NOT AFTER", "SUBJECT"}, rows);
  });
  return 0;
}

int show(const Context& ctx, const CertArgs& args) {
  auto session = open_with_store(ctx, Session::Access::read_only);
  if (!session) return report(session.error());
  ca::Database& store = session->store();
  auto typed = ca::normalise_serial(args.serial);
  if (!typed) return report(typed.error());
  const std::string& serial = *typed;
  auto found = args.ca.empty() ? store.find(serial) : store.find(args.ca, serial);
  if (!found) return report(found.error());
  if (!*found) {
    return report(
        Error{ErrorKind::not_found, "no certificate with serial " + printable(args.serial) +
                                        (args.ca.empty() ? "" : " issued by CA '" + args.ca + "'") +
                                        " (see 'hwca cert list')"});
  }
  const ca::IssuedCert& c = **found;
  const unsigned char* p = c.der.data();
  ossl::Ptr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(c.der.size())));
  if (!x) {
    return report(Error{ErrorKind::io, "the database holds a damaged certificate for " + serial});
  }
  if (args.pem) {
    std::cout << ca::cert_pem(x.get());
    return 0;
  }
  int64_t now = std::time(nullptr);
  auto renewals = store.renewals(c.ca, c.serial);
  if (!renewals) return report(renewals.error());
  if (args.output != OutputFormat::text) {
    nlohmann::json doc = issued_json(c, now);
    doc["renewedInto"] = nlohmann::json::array();
    for (const auto& r : *renewals) doc["renewedInto"].push_back(r.serial);
    print_output(args.output, doc, nullptr);
    return 0;
  }
  auto line = [](const std::string& label, const std::string& value) {
    std::cout << std::left << std::setw(14) << (label + ":") << value << "\n";
  };
  line("serial", c.serial);
  line("ca", c.ca);
  line("profile", c.profile);
  line("subject", printable(c.subject));
  std::string sans;
  for (const auto& s : c.sans) sans += (sans.empty() ? "" : ", ") + s;
  line("sans", sans.empty() ? "-" : printable(sans));
  line("not before", utc_text(c.not_before));
  line("not after", utc_text(c.not_after));
  line("status", issued_status(c, now));
  if (c.revoked) {
    line("revoked at", utc_text(c.revoked_at));
    line("reason code", std::to_string(c.revocation_reason));
  }
  line("requester", printable(c.requester));
  line("sha256", ca::fingerprint_sha256(x.get()));
  line("key sha256", c.spki_sha256.empty() ? "-" : c.spki_sha256);
  if (!c.renewed_from.empty()) line("renewed from", c.renewed_from);
  if (!c.attest_ek_sha256.empty()) {
    line("attested", "EK sha256 " + printable(c.attest_ek_sha256) + ", AK name " +
                         printable(c.attest_ak_name) + ", key name " +
                         printable(c.attest_key_name));
  }
  if (!renewals->empty()) {
    std::string serials;
    for (const auto& r : *renewals) serials += (serials.empty() ? "" : ", ") + r.serial;
    line("renewed into", serials);
  }
  return 0;
}

}  // namespace

void set_cert_command(CLI::App& app, Context& ctx, int& exit_code) {
  static CertArgs args;
  auto* cert = app.add_subcommand(
      "cert",
      "look up certificates in the issuance database, or inspect a certificate, CSR or CRL file");
  cert->require_subcommand(1);

  auto* list_cmd = cert->add_subcommand(
      "list", "list issued certificates, soonest to expire first (expired ones included)");
  list_cmd->add_option("--ca", args.ca, "only this CA's")->type_name("NAME");
  list_cmd
      ->add_option("--expiring", args.expiring,
                   "only those whose notAfter is within this time from now: 30d, 12h, 2w")
      ->type_name("DURATION");
  add_output_option(list_cmd, args.output);
  list_cmd->callback([&] { exit_code = list(ctx, args); });

  auto* show_cmd = cert->add_subcommand("show", "show one certificate's record");
  show_cmd->add_option("serial", args.serial, "the serial, in hex (colons allowed)")
      ->required()
      ->type_name("SERIAL");
  show_cmd->add_option("--ca", args.ca, "the issuing CA, if several used this serial")
      ->type_name("NAME");
  auto* pem = show_cmd->add_flag("--pem", args.pem, "print only the certificate in PEM");
  add_output_option(show_cmd, args.output)->excludes(pem);
  show_cmd->callback([&] { exit_code = show(ctx, args); });

  add_cert_inspect(cert, exit_code);
}

}  // namespace hwca::cli
