// hwca node register | list | show | unregister | import: the TPM of each node, by its
// endorsement key (EK), for enrollment by attestation (src/ca/tpm_registry.hpp). An EK
// certificate must chain to the EK roots when any is set ('hwca ek-roots add'); only EKs
// that attestation can use (attest::ek_from_key: RSA-2048/3072, ECC P-256/P-384) are taken.
#include <yaml-cpp/yaml.h>

#include <ctime>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "attest/ek_certificate.hpp"
#include "attest/make_credential.hpp"
#include "ca/audit_trail.hpp"
#include "ca/bootstrap_token.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/dn.hpp"
#include "ca/san.hpp"
#include "cli/context.hpp"
#include "cli/output.hpp"
#include "cli/session.hpp"
#include "cli/table.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"

namespace hwca::cli {
namespace {

struct RegisterArgs {
  std::string name, ek_cert, ek_pub;
  std::vector<std::string> ips;
  OutputFormat output = OutputFormat::text;
};

struct ListArgs {
  OutputFormat output = OutputFormat::text;
};

struct NameArgs {
  std::string name;
  OutputFormat output = OutputFormat::text;
};

struct ImportArgs {
  std::string file;
  OutputFormat output = OutputFormat::text;
};

std::string quoted(const std::string& text) { return "'" + printable(text) + "'"; }

Status check_node_name(const std::string& name) {
  if (ca::valid_node_name(name)) return {};
  return fail(ErrorKind::usage,
              "node name " + quoted(name) +
                  " is not a Kubernetes node name: lower-case letters, digits, '-' and '.', "
                  "labels of 1-63 starting and ending with a letter or digit, at most 253 in all "
                  "(RFC 1123)");
}

// The EK roots of the store, split as verify_ek_chain takes them; `owned` keeps them alive.
struct Roots {
  std::vector<ossl::Ptr<X509>> owned;
  std::vector<X509*> anchors, intermediates;
};

Result<Roots> load_roots(ca::TpmRegistry& registry) {
  auto stored = registry.ek_roots();
  if (!stored) return tl::unexpected(stored.error());
  Roots roots;
  for (const auto& r : *stored) {
    const unsigned char* p = r.der.data();
    ossl::Ptr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(r.der.size())));
    if (!cert) {
      return fail(ErrorKind::io, "the issuance database holds a damaged EK root " + r.sha256 +
                                     "; remove it ('hwca ek-roots remove') and add it again");
    }
    (r.anchor ? roots.anchors : roots.intermediates).push_back(cert.get());
    roots.owned.push_back(std::move(cert));
  }
  return roots;
}

// The EK that attestation could never use is refused now, not at the node's first attempt.
Status check_supported(EVP_PKEY* key, const std::string& what) {
  if (auto ek = attest::ek_from_key(key); !ek) {
    return fail(ErrorKind::usage, what + ": " + ek.error().message +
                                      " (attestation takes RSA-2048/3072 and ECC P-256/P-384 EKs)");
  }
  return {};
}

// A node's TPM from its EK certificate or public key file (one of the two is empty); an EK
// certificate must chain to the roots when there are any. `what` names it in errors.
Result<ca::NodeTpm> read_tpm(const std::string& node, const std::string& cert_path,
                             const std::string& pub_path, const Roots& roots,
                             const std::string& what) {
  const bool is_cert = !cert_path.empty();
  const std::string& path = is_cert ? cert_path : pub_path;
  auto bytes = read_file(path, 1 << 20);
  if (!bytes) return wrap(bytes.error(), what);
  std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
  ca::NodeTpm tpm;
  tpm.node = node;
  tpm.registered_at = static_cast<int64_t>(std::time(nullptr));
  tpm.registered_by = cli_requester();
  EVP_PKEY* key = nullptr;
  ossl::Ptr<X509> cert;
  ossl::Ptr<EVP_PKEY> pub;
  if (is_cert) {
    auto parsed = attest::parse_ek_certificate(data);
    if (!parsed) return wrap(parsed.error(), what + ": " + printable(path));
    cert = std::move(*parsed);
    key = X509_get0_pubkey(cert.get());
    tpm.ek_kind = ca::kEkKindCertificate;
    tpm.ek_der = ca::cert_der(cert.get());
  } else {
    auto parsed = attest::parse_ek_public_key(data);
    if (!parsed) return wrap(parsed.error(), what + ": " + printable(path));
    pub = std::move(*parsed);
    key = pub.get();
    tpm.ek_kind = ca::kEkKindPublicKey;
    tpm.ek_der = attest::ek_spki_der(key);
  }
  if (key == nullptr || tpm.ek_der.empty()) {
    return fail(ErrorKind::usage, what + ": the EK's public key cannot be read or encoded");
  }
  if (auto ok = check_supported(key, what); !ok) return tl::unexpected(ok.error());
  if (is_cert && !roots.owned.empty()) {
    if (auto ok = attest::verify_ek_chain(cert.get(), roots.anchors, roots.intermediates); !ok) {
      return wrap(ok.error(), what);
    }
  }
  tpm.ek_sha256 = attest::ek_spki_sha256(key);
  return tpm;
}

std::string subject_of(const ca::NodeTpm& t, bool issuer) {
  if (t.ek_kind != ca::kEkKindCertificate) return "";
  const unsigned char* p = t.ek_der.data();
  ossl::Ptr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(t.ek_der.size())));
  if (!cert) return "(damaged certificate)";
  return ca::dn_text(issuer ? X509_get_issuer_name(cert.get()) : X509_get_subject_name(cert.get()));
}

// A node's TPM as the documents describe it; ekSubject and ekIssuer are null for a public key.
nlohmann::json tpm_json(const ca::NodeTpm& t) {
  const bool cert = t.ek_kind == ca::kEkKindCertificate;
  return {{"node", t.node},
          {"ekKind", t.ek_kind},
          {"ekSha256", t.ek_sha256},
          {"ekSubject", cert ? nlohmann::json(subject_of(t, false)) : nlohmann::json(nullptr)},
          {"ekIssuer", cert ? nlohmann::json(subject_of(t, true)) : nlohmann::json(nullptr)},
          {"addresses", t.addresses},
          {"registeredAt", rfc3339_text(t.registered_at)},
          {"registeredBy", t.registered_by}};
}

nlohmann::json tpms_json(const std::vector<ca::NodeTpm>& tpms) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : tpms) out.push_back(tpm_json(t));
  return out;
}

nlohmann::json registered_event(const ca::NodeTpm& t) {
  return {{"node", t.node},
          {"ek_sha256", t.ek_sha256},
          {"ek_kind", t.ek_kind},
          {"subject", subject_of(t, false)},
          {"issuer", subject_of(t, true)},
          {"addresses", t.addresses},
          {"by", t.registered_by}};
}

// Store `tpms` (all or nothing) and audit each; when the audit log cannot record them they
// are unregistered again, the safe side, and the error says so.
int store_and_audit(const ca::Home& home, ca::Database& store,
                    const std::vector<ca::NodeTpm>& tpms) {
  if (auto ok = store.register_tpms(tpms); !ok) return report(ok.error());
  auto audit_trail = ca::open_audit(home);
  ca::AuditTrail& audit = *audit_trail;
  std::vector<ca::AuditTrail::Event> events;
  events.reserve(tpms.size());
  for (const auto& t : tpms) events.push_back({"node.registered", registered_event(t)});
  if (auto ok = audit.append_all(events); !ok) {
    bool undone = true;
    for (const auto& t : tpms) undone = store.unregister_tpm(t.node) && undone;
    return report(
        Error{ok.error().kind, "the audit log did not record the registration (" +
                                   ok.error().message + "); " +
                                   (undone ? "nothing stays registered"
                                           : "unregister the nodes: 'hwca node unregister NAME'")});
  }
  return 0;
}

// The node's TPM; not_found if it has none.
Result<ca::NodeTpm> registered_tpm(ca::TpmRegistry& registry, const std::string& name) {
  auto tpm = registry.tpm(name);
  if (!tpm) return tl::unexpected(tpm.error());
  if (!*tpm) {
    return fail(ErrorKind::not_found,
                "node " + quoted(name) + " has no registered TPM (see 'hwca node list')");
  }
  return std::move(**tpm);
}

std::string registered_line(const ca::NodeTpm& t) {
  return "registered node '" + t.node + "': EK " + t.ek_kind + ", SHA-256 " + t.ek_sha256 +
         (t.addresses.empty() ? "" : ", addresses " + join(t.addresses));
}

int register_node(const Context& ctx, const RegisterArgs& args) {
  if (auto ok = check_node_name(args.name); !ok) return report(ok.error());
  if (args.ek_cert.empty() == args.ek_pub.empty()) {
    return report(Error{ErrorKind::usage, "give the node's EK as one of --ek-cert or --ek-pub"});
  }
  auto addresses = ca::canonical_ips(args.ips);
  if (!addresses) return report(addresses.error());
  auto opened = open_with_store(ctx, Session::Access::writable);
  if (!opened) return report(opened.error());
  auto roots = load_roots(opened->store());
  if (!roots) return report(roots.error());
  auto tpm = read_tpm(args.name, args.ek_cert, args.ek_pub, *roots,
                      args.ek_cert.empty() ? "--ek-pub" : "--ek-cert");
  if (!tpm) return report(tpm.error());
  tpm->addresses = std::move(*addresses);
  if (int rc = store_and_audit(opened->home(), opened->store(), {*tpm}); rc != 0) return rc;
  print_output(args.output, tpm_json(*tpm),
               [&](std::ostream& out) { out << registered_line(*tpm) << "\n"; });
  return 0;
}

int list(const Context& ctx, const ListArgs& args) {
  auto opened = open_with_store(ctx, Session::Access::read_only);
  if (!opened) return report(opened.error());
  auto tpms = opened->store().tpms();
  if (!tpms) return report(tpms.error());
  if (args.output != OutputFormat::text) {
    print_output(args.output, tpms_json(*tpms), nullptr);
    return 0;
  }
  std::vector<Row> rows;
  for (const auto& t : *tpms) {
    rows.push_back({printable(t.node), t.ek_kind, t.ek_sha256,
                    t.addresses.empty() ? "-" : join(t.addresses, ","), utc_text(t.registered_at),
                    printable(t.registered_by)});
  }
  print_table(std::cout, {"NODE", "EK", "EK SHA-256", "ADDRESSES", "REGISTERED", "BY"}, rows);
  return 0;
}

int show(const Context& ctx, const NameArgs& args) {
  auto opened = open_with_store(ctx, Session::Access::read_only);
  if (!opened) return report(opened.error());
  auto tpm = registered_tpm(opened->store(), args.name);
  if (!tpm) return report(tpm.error());
  const ca::NodeTpm& t = *tpm;
  if (args.output != OutputFormat::text) {
    print_output(args.output, tpm_json(t), nullptr);
    return 0;
  }
  auto line = [](const std::string& label, const std::string& value) {
    std::cout << label << std::string(label.size() < 15 ? 15 - label.size() : 1, ' ') << value
              << "\n";
  };
  line("node:", printable(t.node));
  line("EK kind:", t.ek_kind);
  line("EK sha256:", t.ek_sha256);
  if (t.ek_kind == ca::kEkKindCertificate) {
    const std::string subject = subject_of(t, false);
    line("EK subject:", subject.empty() ? "(empty: see its subjectAltName)" : printable(subject));
    line("EK issuer:", printable(subject_of(t, true)));
  }
  line("addresses:", t.addresses.empty() ? "none (its serving certificates name only its DNS name)"
                                         : join(t.addresses));
  line("registered at:", utc_text(t.registered_at));
  line("registered by:", printable(t.registered_by));
  return 0;
}

int unregister(const Context& ctx, const NameArgs& args) {
  auto opened = open_with_store(ctx, Session::Access::writable);
  if (!opened) return report(opened.error());
  auto tpm = registered_tpm(opened->store(), args.name);
  if (!tpm) return report(tpm.error());
  if (auto ok = opened->store().unregister_tpm(args.name); !ok) return report(ok.error());
  auto audit_trail = ca::open_audit(opened->home());
  ca::AuditTrail& audit = *audit_trail;
  nlohmann::json data = {
      {"node", args.name}, {"ek_sha256", tpm->ek_sha256}, {"by", cli_requester()}};
  if (auto ok = audit.append("node.unregistered", data); !ok) {
    // The removal stands: the node can no longer enroll by attestation, the safe side.
    return report(Error{ok.error().kind, "node " + quoted(args.name) +
                                             " is unregistered in the issuance database, but the "
                                             "audit log did not record it: " +
                                             ok.error().message});
  }
  print_output(args.output, tpm_json(*tpm), [&](std::ostream& out) {
    out << "unregistered node '" << args.name << "' (EK SHA-256 " << tpm->ek_sha256 << ")\n";
  });
  return 0;
}

// The inventory: "nodes:", a list of {name, ek-cert | ek-pub}, paths relative to the
// file's folder. Every entry is read and checked before anything is stored.
int import(const Context& ctx, const ImportArgs& args) {
  auto text = read_file(args.file, 4 << 20);
  if (!text) return report(text.error());
  const std::string source = printable(args.file);
  const auto slash = args.file.rfind('/');
  const std::string folder = slash == std::string::npos ? "" : args.file.substr(0, slash + 1);
  auto opened = open_with_store(ctx, Session::Access::writable);
  if (!opened) return report(opened.error());
  auto roots = load_roots(opened->store());
  if (!roots) return report(roots.error());

  std::vector<ca::NodeTpm> tpms;
  std::map<std::string, size_t> names, eks;  // to the entry that has it
  try {
    YAML::Node root = YAML::Load(*text);
    if (!root.IsMap() || root.size() != 1 || !root["nodes"] || !root["nodes"].IsSequence()) {
      return report(Error{ErrorKind::usage, source + " must be a mapping with one key, nodes: "
                                                     "a list of {name, ek-cert or ek-pub, ip}"});
    }
    size_t index = 0;
    for (const auto& entry : root["nodes"]) {
      ++index;
      std::string where = source + " entry " + std::to_string(index);
      if (!entry.IsMap()) {
        return report(
            Error{ErrorKind::usage, where + ": not a mapping of name and ek-cert or ek-pub"});
      }
      std::map<std::string, std::string> fields;
      std::vector<std::string> ips;
      for (const auto& item : entry) {
        const std::string key = item.first.as<std::string>();
        if (key != "name" && key != "ek-cert" && key != "ek-pub" && key != "ip") {
          return report(Error{ErrorKind::usage, where + ": unknown key " + quoted(key) +
                                                    " (name, ek-cert, ek-pub, ip)"});
        }
        if (key == "ip") {
          if (!item.second.IsSequence()) {
            return report(Error{ErrorKind::usage, where + ": ip is not a list of addresses"});
          }
          for (const auto& ip : item.second) {
            if (!ip.IsScalar()) {
              return report(Error{ErrorKind::usage, where + ": ip holds something not an address"});
            }
            ips.push_back(ip.as<std::string>());
          }
          continue;
        }
        if (!item.second.IsScalar()) {
          return report(Error{ErrorKind::usage, where + ": " + key + " is not a string"});
        }
        fields[key] = item.second.as<std::string>();
      }
      const std::string name = fields["name"];
      where += " (name " + quoted(name) + ")";
      if (auto ok = check_node_name(name); !ok) {
        return report(Error{ErrorKind::usage, where + ": " + ok.error().message});
      }
      if (auto [it, fresh] = names.emplace(name, index); !fresh) {
        return report(Error{ErrorKind::usage,
                            where + ": the same node as entry " + std::to_string(it->second)});
      }
      if (fields.count("ek-cert") == fields.count("ek-pub")) {
        return report(Error{ErrorKind::usage, where + ": give one of ek-cert or ek-pub"});
      }
      auto relative = [&](const std::string& path) {
        return path.empty() || path[0] == '/' ? path : folder + path;
      };
      auto tpm =
          read_tpm(name, relative(fields["ek-cert"]), relative(fields["ek-pub"]), *roots, where);
      if (!tpm) return report(tpm.error());
      auto addresses = ca::canonical_ips(ips, "ip");
      if (!addresses)
        return report(Error{ErrorKind::usage, where + ": " + addresses.error().message});
      tpm->addresses = std::move(*addresses);
      if (auto [it, fresh] = eks.emplace(tpm->ek_sha256, index); !fresh) {
        return report(Error{ErrorKind::usage,
                            where + ": the same EK as entry " + std::to_string(it->second)});
      }
      tpms.push_back(std::move(*tpm));
    }
  } catch (const YAML::Exception& e) {
    return report(Error{ErrorKind::usage,
                        source + " line " + std::to_string(e.mark.line + 1) + ": " + e.msg});
  }
  if (tpms.empty()) return report(Error{ErrorKind::usage, source + " lists no nodes"});
  if (int rc = store_and_audit(opened->home(), opened->store(), tpms); rc != 0) return rc;
  print_output(args.output, tpms_json(tpms), [&](std::ostream& out) {
    for (const auto& t : tpms) out << registered_line(t) << "\n";
  });
  return 0;
}

}  // namespace

void set_node_command(CLI::App& app, Context& ctx, int& exit_code) {
  auto* node = app.add_subcommand(
      "node",
      "the registry of nodes' TPMs: each node's endorsement key (EK), by the SHA-256 of its "
      "SubjectPublicKeyInfo, with which it enrolls by attestation; every change is audited");
  node->require_subcommand(1);

  static RegisterArgs register_args;
  auto* register_cmd = node->add_subcommand(
      "register",
      "register a node's TPM by its EK certificate (which must chain to the EK roots when any "
      "is set: 'hwca ek-roots add') or its EK public key; RSA-2048/3072 and ECC P-256/P-384 "
      "EKs only. A node has one TPM, an EK one node");
  register_cmd
      ->add_option("--name", register_args.name, "the node's Kubernetes node name (RFC 1123)")
      ->required()
      ->type_name("NAME");
  auto* cert_opt = register_cmd
                       ->add_option("--ek-cert", register_args.ek_cert,
                                    "the EK certificate, PEM or DER (as read from NV: 'tpm2_nvread "
                                    "0x01c00002' for RSA, 0x01c0000a or 0x01c00016 for ECC)")
                       ->type_name("FILE");
  auto* pub_opt = register_cmd
                      ->add_option("--ek-pub", register_args.ek_pub,
                                   "the EK public key, PEM (PUBLIC KEY) or SubjectPublicKeyInfo "
                                   "DER ('hwca-node ek show', 'tpm2_createek -f pem')")
                      ->type_name("FILE");
  cert_opt->excludes(pub_opt);
  register_cmd
      ->add_option("--ip", register_args.ips,
                   "an IP address of the node (repeat for several): what its kubelet-serving "
                   "certificates may name besides its DNS name ('hwca-node serving')")
      ->type_name("ADDRESS");
  add_output_option(register_cmd, register_args.output);
  register_cmd->callback([&] { exit_code = register_node(ctx, register_args); });

  static ListArgs list_args;
  auto* list_cmd = node->add_subcommand(
      "list", "list the registered TPMs: node, EK kind, EK SHA-256, when and by whom");
  add_output_option(list_cmd, list_args.output);
  add_json_alias(list_cmd, list_args.output);
  list_cmd->callback([&] { exit_code = list(ctx, list_args); });

  static NameArgs show_args;
  auto* show_cmd = node->add_subcommand("show",
                                        "show a node's TPM: EK kind and SHA-256, the certificate's "
                                        "subject and issuer, its addresses");
  show_cmd->add_option("name", show_args.name, "the node's name")->required()->type_name("NAME");
  add_output_option(show_cmd, show_args.output);
  show_cmd->callback([&] { exit_code = show(ctx, show_args); });

  static NameArgs unregister_args;
  auto* unregister_cmd = node->add_subcommand(
      "unregister", "forget a node's TPM: it can no longer enroll by attestation; audited");
  unregister_cmd->add_option("name", unregister_args.name, "the node's name")
      ->required()
      ->type_name("NAME");
  add_output_option(unregister_cmd, unregister_args.output);
  unregister_cmd->callback([&] { exit_code = unregister(ctx, unregister_args); });

  static ImportArgs import_args;
  auto* import_cmd = node->add_subcommand(
      "import",
      "register a fleet from a YAML inventory ('nodes:', a list of {name, ek-cert or ek-pub, "
      "optional ip: a list of addresses}, "
      "paths relative to the file's folder; docs/cli.md), all or nothing: any bad entry "
      "fails the whole import, naming it, and nothing is stored");
  import_cmd->add_option("--file", import_args.file, "the inventory")
      ->required()
      ->type_name("FILE");
  add_output_option(import_cmd, import_args.output);
  import_cmd->callback([&] { exit_code = import(ctx, import_args); });
}

}  // namespace hwca::cli
