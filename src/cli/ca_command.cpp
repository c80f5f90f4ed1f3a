// hwca ca init | list | show
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "ca/ca_init.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/dn.hpp"
#include "cli/context.hpp"
#include "cli/describe.hpp"
#include "cli/output.hpp"
#include "cli/session.hpp"
#include "cli/table.hpp"
#include "cli/token_keys.hpp"
#include "common/text.hpp"
#include "tokens/registry.hpp"

namespace hwca::cli {
namespace {

struct CaArgs {
  std::string name, key, generate, subject, parent;
  std::vector<std::string> sans, crl_urls, ca_issuers_urls;
  int days = 3650;
  int path_len = -1;
  bool pem = false;
  bool key_attributes = false;
  OutputFormat output = OutputFormat::text;
};

// Certificate times as the other listings print them ("2026-11-28 12:00:00Z").
std::string time_text(const ASN1_TIME* t) { return utc_text(ca::unix_time(t)); }

// A CA as the documents describe it: its certificate's fields with name, parent (null for a
// root), certificateFile and key ({uri}, more when the key store was asked).
nlohmann::json ca_json(const ca::Home& home, const std::string& name, const ca::CaEntry& entry,
                       const X509* cert, nlohmann::json key) {
  nlohmann::json doc = certificate_json(cert);
  doc["name"] = name;
  doc["parent"] = entry.parent.empty() ? nlohmann::json(nullptr) : nlohmann::json(entry.parent);
  // A shared CA's certificate is in the database, not a file of this home.
  doc["certificateFile"] =
      home.shared_cert_pem(name) ? nlohmann::json(nullptr) : nlohmann::json(home.path(entry.cert));
  if (!key.is_object()) key = nlohmann::json::object();
  key["uri"] = entry.key;
  if (!key.contains("type")) key["type"] = tokens::key_type_of(X509_get0_pubkey(cert));
  doc["key"] = std::move(key);
  doc["crlDistributionPoints"] = entry.urls.crl;
  doc["issuingCertificateURLs"] = entry.urls.ca_issuers;
  return doc;
}

int init(const Context& ctx, const CaArgs& args) {
  auto session = Session::open(ctx, Session::Access::create);
  if (!session) return report(session.error());
  ca::Home& home = session->home();
  // A TPM key file is recorded by its absolute path (hwca may run from any folder).
  auto key_uri = tokens::stored_key_uri(args.key);
  if (!key_uri) return report(key_uri.error());
  // What can fail without the key is checked first, so a failure leaves no new key behind.
  ca::DistributionUrls urls{args.crl_urls, args.ca_issuers_urls};
  if (auto ok = ca::check_distribution_urls(urls.crl, "--crl-url"); !ok) return report(ok.error());
  if (auto ok = ca::check_distribution_urls(urls.ca_issuers, "--ca-issuers-url"); !ok) {
    return report(ok.error());
  }
  if (auto subject = ca::parse_dn(args.subject); !subject) return report(subject.error());
  auto crypto = session->open_crypto();
  if (!crypto) return report(crypto.error());
  auto store = session->open_store();
  if (!store) return report(store.error());
  nlohmann::json generated_key;  // null: an existing key was adopted
  if (!args.generate.empty()) {
    auto made = generate_key(ctx, args.key, args.generate);
    if (!made) return report(made.error());
    generated_key = key_json(*made);
    if (args.output == OutputFormat::text) std::cout << generated_text(*made);
    // A token key by the URI that names exactly it; a TPM key as given (its file's path
    // absolute), so that its pin-source, which KeyInfo::uri leaves out, is recorded.
    if (!args.key.starts_with("tpm2:")) key_uri = made->uri;
  }
  ca::InitCaRequest req;
  req.name = args.name;
  req.key_uri = *key_uri;
  req.subject = args.subject;
  req.sans = args.sans;
  req.days = args.days;
  req.parent = args.parent;
  if (args.path_len >= 0) req.path_len = args.path_len;
  req.urls = urls;
  req.key_options = ctx.open_options();
  req.requester = cli_requester();
  req.store = *store;
  req.catalog = (*store)->catalog();
  auto made = ca::init_ca(home, **crypto, req);
  if (!made) {
    Error e = made.error();
    // The key is whole and usable: say where it is rather than destroy it.
    if (!args.generate.empty()) {
      e.message += "; the key generated for it stays at " + *key_uri +
                   " (to use it, run again with that --key and without --generate)";
    }
    return report(e);
  }
  nlohmann::json doc = ca_json(home, args.name, made->entry, made->cert.get(), generated_key);
  doc["keyGenerated"] = !args.generate.empty();
  print_output(args.output, doc, [&](std::ostream& out) {
    out << (args.parent.empty() ? "root" : "intermediate") << " CA '" << args.name
        << "' created: " << ca::dn_text(X509_get_subject_name(made->cert.get())) << "\n"
        << "certificate: "
        << (home.shared_cert_pem(args.name) ? "in the shared database " + (*store)->describe()
                                            : home.path(made->entry.cert))
        << "\n";
  });
  return 0;
}

int list(const Context& ctx, OutputFormat output) {
  auto session = Session::open(ctx, Session::Access::read_only);
  if (!session) return report(session.error());
  const ca::Home& home = session->home();
  std::vector<Row> rows;
  nlohmann::json doc = nlohmann::json::array();
  for (const auto& [name, entry] : home.config().cas) {
    auto cert = ca::load_ca_cert(home, name);
    if (!cert) return report(cert.error());
    rows.push_back({name, entry.parent.empty() ? "-" : entry.parent,
                    time_text(X509_get0_notAfter(cert->get())),
                    ca::dn_text(X509_get_subject_name(cert->get()))});
    doc.push_back(ca_json(home, name, entry, cert->get(), nullptr));
  }
  print_output(output, doc, [&](std::ostream& out) {
    print_table(out, {"NAME", "PARENT", "NOT AFTER", "SUBJECT"}, rows);
  });
  return 0;
}

int show(const Context& ctx, const CaArgs& args) {
  auto session = Session::open(ctx, Session::Access::read_only);
  if (!session) return report(session.error());
  const ca::Home& home = session->home();
  if (args.pem) {
    auto chain = ca::read_ca_chain_pem(home, args.name);
    if (!chain) return report(chain.error());
    std::cout << *chain;
    return 0;
  }
  auto cert = ca::load_ca_cert(home, args.name);
  if (!cert) return report(cert.error());
  const auto& entry = home.config().cas.at(args.name);
  X509* x = cert->get();
  if (args.output != OutputFormat::text) {
    nlohmann::json key;  // the token is opened only when asked
    if (args.key_attributes) {
      auto attrs = inspect_key(ctx, entry.key);
      if (!attrs) return report(attrs.error());
      key = key_json(*attrs);
    }
    print_output(args.output, ca_json(home, args.name, entry, x, key), nullptr);
    return 0;
  }
  auto line = [](const std::string& label, const std::string& value) {
    std::cout << std::left << std::setw(19) << (label + ":") << value << "\n";
  };
  line("name", args.name);
  line("subject", ca::dn_text(X509_get_subject_name(x)));
  line("issuer", ca::dn_text(X509_get_issuer_name(x)));
  line("parent", entry.parent.empty() ? "- (root)" : entry.parent);
  line("not before", time_text(X509_get0_notBefore(x)));
  line("not after", time_text(X509_get0_notAfter(x)));
  long path_len = X509_get_pathlen(x);
  line("path length", path_len < 0 ? "unlimited" : std::to_string(path_len));
  line("sha256", ca::fingerprint_sha256(x));
  line("certificate", home.path(entry.cert));
  line("key", entry.key);
  // The certificate's public key is the CA key's: its type needs no token.
  line("key type", tokens::key_type_of(X509_get0_pubkey(x)));
  auto urls = [&](const std::string& label, const std::vector<std::string>& list) {
    std::string text;
    for (const auto& url : list) text += (text.empty() ? "" : ", ") + url;
    line(label, text.empty() ? "-" : text);
  };
  urls("CRL URLs", entry.urls.crl);
  urls("caIssuers URLs", entry.urls.ca_issuers);
  if (!args.key_attributes) return 0;
  // The key's protection, as the token reports it: only when asked, as it opens the token
  // (and may need its PIN).
  auto attrs = inspect_key(ctx, entry.key);
  if (!attrs) return report(attrs.error());
  // A TPM's attribute names are longer than the labels above.
  size_t width = 19;
  for (const auto& flag : attrs->flags) width = std::max(width, flag.first.size() + 2);
  for (const auto& [flag, value] : attrs->flags) {
    std::cout << std::left << std::setw(static_cast<int>(width)) << (flag + ":")
              << (value ? "yes" : "no") << "\n";
  }
  return 0;
}

}  // namespace

void set_ca_command(CLI::App& app, Context& ctx, int& exit_code) {
  static CaArgs args;
  auto* ca = app.add_subcommand("ca", "create and inspect CAs whose keys stay in a token");
  ca->require_subcommand(1);

  auto* init_cmd = ca->add_subcommand(
      "init", "create a root CA (self-signed) or, with --parent, an intermediate CA");
  init_cmd->add_option("--name", args.name, "name of the CA in the home (a-z, 0-9, '-')")
      ->required()
      ->type_name("NAME");
  init_cmd
      ->add_option("--key", args.key,
                   "URI of the CA's key: pkcs11:token=T;object=L, tpm2:file=PATH or "
                   "tpm2:handle=0x81...")
      ->required()
      ->type_name("URI");
  init_cmd
      ->add_option("--generate", args.generate,
                   "first generate the key in the token or TPM: ec-p256, ec-p384, rsa-2048, "
                   "rsa-3072 or rsa-4096 (without it an existing key is adopted)")
      ->type_name("TYPE");
  init_cmd->add_option("--subject", args.subject, "subject, e.g. /CN=kubernetes or CN=x,O=y")
      ->required()
      ->type_name("DN");
  init_cmd
      ->add_option("--san", args.sans,
                   "a subjectAltName, DNS:name or IP:address (repeat; kubeadm's CAs carry "
                   "DNS:<their CN>)")
      ->type_name("NAME");
  init_cmd->add_option("--days", args.days,
                       "validity in days (default 3650; an intermediate's "
                       "ends no later than its parent's)");
  init_cmd
      ->add_option("--crl-url", args.crl_urls,
                   "where this CA's CRL will be published (http://, https:// or ldap://; "
                   "repeat for alternatives): every certificate it issues names it in "
                   "cRLDistributionPoints")
      ->type_name("URL");
  init_cmd
      ->add_option("--ca-issuers-url", args.ca_issuers_urls,
                   "where this CA's certificate will be published (repeat): every certificate "
                   "it issues names it in authorityInfoAccess caIssuers")
      ->type_name("URL");
  init_cmd->add_option("--parent", args.parent, "the CA that signs this one (an intermediate)")
      ->type_name("NAME");
  init_cmd
      ->add_option("--path-len", args.path_len,
                   "basicConstraints pathLenConstraint (default: none for a root, 0 for an "
                   "intermediate)")
      ->type_name("N");
  add_output_option(init_cmd, args.output);
  init_cmd->callback([&] { exit_code = init(ctx, args); });

  auto* list_cmd = ca->add_subcommand("list", "list the CAs of the home");
  add_output_option(list_cmd, args.output);
  list_cmd->callback([&] { exit_code = list(ctx, args.output); });

  auto* show_cmd = ca->add_subcommand(
      "show",
      "show a CA from its certificate and the home's config (no token needed): subject, "
      "validity, fingerprint, key URI and type, CRL and caIssuers URLs");
  show_cmd->add_option("name", args.name, "the CA's name")->required()->type_name("NAME");
  auto* pem = show_cmd->add_flag("--pem", args.pem,
                                 "print only the certificate in PEM, followed by its parents");
  show_cmd
      ->add_flag("--key-attributes", args.key_attributes,
                 "also the key's protection attributes as its token or TPM reports them (opens "
                 "the token: may need the PIN)")
      ->excludes(pem);
  add_output_option(show_cmd, args.output)->excludes(pem);
  show_cmd->callback([&] { exit_code = show(ctx, args); });
}

}  // namespace hwca::cli
