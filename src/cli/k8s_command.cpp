// hwca k8s: the Kubernetes PKI (docs/kubernetes.md). certs and renew write a tree a node
// from a cluster description; kubeconfig makes one user's kubeconfig; check-expiration
// reads a written tree.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/context.hpp"
#include "cli/output.hpp"
#include "cli/output_files.hpp"
#include "cli/session.hpp"
#include "cli/table.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"
#include "k8s/cluster.hpp"
#include "k8s/cluster_pki.hpp"
#include "k8s/expiration.hpp"
#include "k8s/plan.hpp"
#include "k8s/user_kubeconfig.hpp"

namespace hwca::cli {
namespace {

struct K8sArgs {
  std::string config, out, dir;
  OutputFormat output = OutputFormat::text;
  std::vector<std::string> nodes, names;
  unsigned threads = 0;
  // kubeconfig
  std::string ca, user, server, cluster = "kubernetes", key_type = "ec-p256";
  std::vector<std::string> groups;
  int days = 0;
  bool force = false;
};

// A progress line on a terminal, rewritten in place, for a stage of 50 items or more or one
// that has run for a second (a few rsa-4096 keys take minutes); nothing when stderr is not
// a terminal.
bool g_progress_shown = false;
void progress(const char* stage, size_t done, size_t total) {
  static const bool tty = ::isatty(STDERR_FILENO) == 1;
  static std::string current;
  static auto started = std::chrono::steady_clock::now();
  if (!tty) return;
  const auto now = std::chrono::steady_clock::now();
  if (current != stage) {
    current = stage;
    started = now;
  }
  if (total < 50 && now - started < std::chrono::seconds(1)) return;
  std::cerr << "\rhwca: " << stage << " " << done << "/" << total << "   " << std::flush;
  g_progress_shown = done != total;
  if (done == total) std::cerr << "\r\033[K" << std::flush;
}
// Wipe a progress line left standing (a run that failed midway) before the error line.
void clear_progress() {
  if (g_progress_shown) std::cerr << "\r\033[K" << std::flush;
  g_progress_shown = false;
}

void print_summary(const k8s::PkiReport& report, const std::string& out_dir) {
  struct Sum {
    std::string ca;
    size_t issued = 0, renewed = 0, replaced = 0, kept = 0;
    std::time_t first_end = 0;
  };
  std::map<std::string, Sum> by_name;
  for (const auto& row : report.rows) {
    Sum& s = by_name[row.name];
    s.ca = row.ca;
    switch (row.outcome) {
      case k8s::Outcome::issued:
        ++s.issued;
        break;
      case k8s::Outcome::renewed:
        ++s.renewed;
        break;
      case k8s::Outcome::replaced:
        ++s.replaced;
        break;
      case k8s::Outcome::kept:
        ++s.kept;
        break;
    }
    if (s.first_end == 0 || row.not_after < s.first_end) s.first_end = row.not_after;
  }
  std::vector<Row> rows;
  for (const auto& name : k8s::certificate_names()) {
    auto it = by_name.find(name);
    if (it == by_name.end()) continue;
    const Sum& s = it->second;
    rows.push_back({name, s.ca, std::to_string(s.issued), std::to_string(s.renewed),
                    std::to_string(s.replaced), std::to_string(s.kept), utc_text(s.first_end)});
  }
  print_table(std::cout,
              {"CERTIFICATE", "CA", "ISSUED", "RENEWED", "REPLACED", "KEPT", "FIRST EXPIRY"}, rows);
  // Why files were replaced or rewritten: one line a reason, naming a few of them.
  constexpr size_t kNamed = 5;
  std::map<std::string, std::vector<std::string>> why;
  for (const auto& row : report.rows) {
    if (row.outcome == k8s::Outcome::replaced || !row.reason.empty()) {
      why[std::string(k8s::outcome_name(row.outcome)) + ", " + printable(row.reason)].push_back(
          row.node + "/" + row.name);
    }
  }
  for (const auto& [reason, files] : why) {
    std::cout << reason << ": ";
    for (size_t i = 0; i < files.size() && i < kNamed; ++i)
      std::cout << (i ? ", " : "") << files[i];
    if (files.size() > kNamed) std::cout << " and " << files.size() - kNamed << " more";
    std::cout << "\n";
  }
  for (const auto& note : report.notes) std::cout << "note: " << note << "\n";
  if (report.nodes_written == 0) {
    std::cout << "nothing to change in " << out_dir << "\n";
  } else {
    std::cout << "wrote " << report.nodes_written << " node tree"
              << (report.nodes_written == 1 ? "" : "s") << " under " << out_dir
              << " (DIR/<node>/ goes to the node's /etc/kubernetes/)\n";
  }
}

int write_pki(const Context& ctx, const K8sArgs& args, bool renew) {
  auto text = read_file(args.config, 1 << 20);
  if (!text) return report(text.error());
  auto cluster = k8s::parse_cluster(*text, args.config);
  if (!cluster) return report(cluster.error());
  k8s::PkiOptions options;
  if (renew) {
    auto known = k8s::certificate_names();
    for (const auto& n : args.names) {
      if (n != "all" && std::find(known.begin(), known.end(), n) == known.end()) {
        return report(Error{ErrorKind::usage, "unknown certificate '" + printable(n) + "' (all, " +
                                                  join(known) + ")"});
      }
    }
    options.renew.insert(args.names.begin(), args.names.end());
    if (options.renew.empty()) options.renew.insert("all");
  }
  options.nodes.insert(args.nodes.begin(), args.nodes.end());
  options.requester = cli_requester();
  options.key_options = ctx.open_options();
  options.threads = args.threads;
  options.progress = progress;
  auto setup = open_for_signing(ctx);
  if (!setup) return report(setup.error());
  auto result = k8s::write_cluster_pki(setup->home(), setup->crypto(), setup->store(), *cluster,
                                       args.out, options);
  if (!result) {
    clear_progress();
    return report(result.error());
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : result->rows) {
    rows.push_back(
        {{"node", row.node},
         {"name", row.name},
         {"ca", row.ca},
         {"outcome", k8s::outcome_name(row.outcome)},
         {"reason", row.reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(row.reason)},
         {"notAfter", rfc3339_text(row.not_after)}});
  }
  nlohmann::json doc = {{"out", args.out},
                        {"nodesWritten", result->nodes_written},
                        {"certificates", rows},
                        {"notes", result->notes}};
  print_output(args.output, doc, [&](std::ostream&) { print_summary(*result, args.out); });
  return 0;
}

int kubeconfig(const Context& ctx, const K8sArgs& args) {
  k8s::UserKubeconfigRequest request;
  request.ca = args.ca;
  request.user = args.user;
  request.groups = args.groups;
  request.server = args.server;
  request.cluster = args.cluster;
  auto type = tokens::parse_key_type(args.key_type);
  if (!type) return report(type.error());
  request.key_type = *type;
  if (args.days > 0) request.days = args.days;
  request.requester = cli_requester();
  request.key_options = ctx.open_options();
  if (auto ok = k8s::check_user_request(request); !ok) return report(ok.error());
  // "-": the kubeconfig on standard output, and what was done on standard error.
  const bool to_stdout = args.out == "-";
  if (to_stdout && args.output != OutputFormat::text) {
    return report(Error{ErrorKind::usage,
                        "-o json|yaml needs --out FILE: with --out - the "
                        "kubeconfig itself is standard output"});
  }
  if (!to_stdout) {
    if (auto ok = check_output_file(args.out, args.force); !ok) return report(ok.error());
  }
  auto setup = open_for_signing(ctx);
  if (!setup) return report(setup.error());
  auto made = k8s::issue_user_kubeconfig(setup->home(), setup->crypto(), setup->store(), request);
  if (!made) return report(made.error());
  auto written = to_stdout ? write_stdout(made->text.view())
                           : write_file_atomic(args.out, made->text.view(), 0600);
  if (!written) {
    return report(Error{written.error().kind,
                        "certificate " + made->serial + " was issued and recorded, but " +
                            written.error().message + " (revoke it: 'hwca revoke')"});
  }
  nlohmann::json doc = {{"file", args.out},       {"user", args.user},
                        {"groups", args.groups},  {"cluster", args.cluster},
                        {"server", args.server},  {"ca", args.ca},
                        {"serial", made->serial}, {"notAfter", rfc3339_text(made->not_after)}};
  print_output(args.output, doc, [&](std::ostream&) {
    (to_stdout ? std::cerr : std::cout)
        << (to_stdout ? "wrote the kubeconfig to standard output" : "wrote " + args.out)
        << " for user " << printable(args.user)
        << (args.groups.empty() ? "" : " in " + printable(join(args.groups))) << ", certificate "
        << made->serial << " valid until " << utc_text(made->not_after) << "\n";
  });
  return 0;
}

// One certificate as kubeadm's CertificateExpirationInfo lists it (output.kubeadm.k8s.io/
// v1alpha3 Certificate: residualTime in seconds, caName only for a leaf). An unreadable file
// is "missing", as kubeadm says of one it cannot load.
nlohmann::json kubeadm_certificate(const k8s::ExpiryRow& r, std::time_t now) {
  nlohmann::json j = {
      {"name", r.name}, {"externallyManaged", r.externally_managed}, {"missing", !r.error.empty()}};
  if (r.error.empty()) {
    j["expirationDate"] = rfc3339_text(r.not_after);
    j["residualTime"] = static_cast<long long>(r.not_after - now);
  } else {
    j["expirationDate"] = nullptr;
    j["residualTime"] = 0;
  }
  if (!r.is_ca) j["caName"] = r.ca;
  return j;
}

// kubeadm's document for one node's rows (hwca adds "node" when DIR holds several trees).
nlohmann::json expiration_info(const std::vector<k8s::ExpiryRow>& rows, std::time_t now) {
  nlohmann::json certs = nlohmann::json::array(), cas = nlohmann::json::array();
  for (const auto& r : rows) (r.is_ca ? cas : certs).push_back(kubeadm_certificate(r, now));
  nlohmann::json doc = {{"apiVersion", "output.kubeadm.k8s.io/v1alpha3"},
                        {"kind", "CertificateExpirationInfo"},
                        {"certificates", certs},
                        {"certificateAuthorities", cas}};
  if (!rows.empty() && !rows.front().node.empty()) doc["node"] = rows.front().node;
  return doc;
}

// One node's tree: kubeadm's CertificateExpirationInfo itself; a folder of trees: a List of
// them, one a node, each with its "node".
nlohmann::json expiration_document(const std::vector<k8s::ExpiryRow>& rows, std::time_t now) {
  if (rows.empty() || rows.front().node.empty()) return expiration_info(rows, now);
  nlohmann::json items = nlohmann::json::array();
  for (size_t i = 0; i < rows.size();) {
    size_t end = i;
    while (end < rows.size() && rows[end].node == rows[i].node) ++end;
    items.push_back(expiration_info(
        {rows.begin() + static_cast<long>(i), rows.begin() + static_cast<long>(end)}, now));
    i = end;
  }
  return {{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}};
}

void print_expiration_tables(std::ostream& out, const std::vector<k8s::ExpiryRow>& rows,
                             std::time_t now) {
  // One node's own tree: kubeadm's columns; a folder of trees: a NODE column first.
  const bool one_tree = !rows.empty() && rows.front().node.empty();
  std::vector<Row> certs, cas;
  for (const auto& r : rows) {
    Row row = one_tree ? Row{r.name} : Row{r.node, r.name};
    if (!r.error.empty()) {
      row.insert(row.end(), {"-", "unreadable"});
    } else {
      row.insert(row.end(), {utc_text(r.not_after), k8s::residual_text(r.not_after, now)});
    }
    if (!r.is_ca) row.push_back(r.ca);
    (r.is_ca ? cas : certs).push_back(std::move(row));
  }
  Row cert_header = {"CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY"};
  Row ca_header = {"CERTIFICATE AUTHORITY", "EXPIRES", "RESIDUAL TIME"};
  if (!one_tree) {
    cert_header.insert(cert_header.begin(), "NODE");
    ca_header.insert(ca_header.begin(), "NODE");
  }
  print_table(out, cert_header, certs);
  out << "\n";
  print_table(out, ca_header, cas);
}

int check_expiration(const K8sArgs& args) {
  std::set<std::string> nodes(args.nodes.begin(), args.nodes.end());
  auto rows = k8s::scan_expiration(args.dir, nodes);
  if (!rows) return report(rows.error());
  const std::time_t now = std::time(nullptr);
  size_t unreadable = 0;
  std::string first_error;
  for (const auto& r : *rows) {
    if (!r.error.empty() && unreadable++ == 0) first_error = r.error;
  }
  // The whole document (unreadable files "missing") or table, then the error if any.
  print_output(args.output, expiration_document(*rows, now),
               [&](std::ostream& out) { print_expiration_tables(out, *rows, now); });
  std::cout << std::flush;
  if (unreadable > 0) {
    return report(Error{ErrorKind::io, std::to_string(unreadable) + " file" +
                                           (unreadable == 1 ? "" : "s") +
                                           " could not be read: " + first_error});
  }
  return 0;
}

void add_pki_options(CLI::App* cmd, K8sArgs& args) {
  cmd->add_option("--config", args.config, "the cluster description (docs/kubernetes.md)")
      ->required()
      ->type_name("FILE");
  cmd->add_option("--out", args.out,
                  "the output folder: one tree a node, DIR/<node>/ (created 0700 if missing)")
      ->required()
      ->type_name("DIR");
  cmd->add_option("--node", args.nodes, "only this node (repeat for more; default every node)")
      ->type_name("NAME");
  cmd->add_option("--threads", args.threads,
                  "threads that make the leaf keys (default: one a core)")
      ->type_name("N");
}

}  // namespace

void set_k8s_command(CLI::App& app, Context& ctx, int& exit_code) {
  static K8sArgs args;
  auto* k8s = app.add_subcommand(
      "k8s",
      "Kubernetes PKI: kubeadm-compatible certificates and kubeconfigs from CAs in the token");
  k8s->require_subcommand(1);

  auto* certs = k8s->add_subcommand(
      "certs",
      "write every node's certificates, keys and kubeconfigs (kubeadm's layout, external-CA "
      "mode: no CA key is written); files that are still valid and match are kept");
  add_pki_options(certs, args);
  add_output_option(certs, args.output);
  certs->callback([&] { exit_code = write_pki(ctx, args, false); });

  auto* renew = k8s->add_subcommand(
      "renew",
      "issue new certificates and keys for the named certificates (default all) with the "
      "CA keys in the token; kubeadm would need ca.key for this");
  add_pki_options(renew, args);
  renew
      ->add_option("names", args.names,
                   "certificates to renew: all, or kubeadm names (apiserver, etcd-server, "
                   "admin.conf, kubelet.conf, ...)")
      ->type_name("NAME");
  add_output_option(renew, args.output);
  renew->callback([&] { exit_code = write_pki(ctx, args, true); });

  auto* kc = k8s->add_subcommand("kubeconfig",
                                 "a client certificate and kubeconfig for one user or component");
  kc->add_option("--ca", args.ca, "the issuing CA (the cluster's kubernetes CA)")
      ->required()
      ->type_name("NAME");
  kc->add_option("--user", args.user, "user name: the certificate's CN")
      ->required()
      ->type_name("NAME");
  kc->add_option("--group", args.groups,
                 "a group: an O of the certificate (repeat; system:masters makes an admin)")
      ->type_name("G");
  kc->add_option("--server", args.server, "the apiserver URL, e.g. https://10.0.0.10:6443")
      ->required()
      ->type_name("URL");
  kc->add_option("--cluster", args.cluster, "cluster name in the kubeconfig (default kubernetes)")
      ->type_name("NAME");
  kc->add_option("--key-type", args.key_type,
                 "the user's key, made on this host: ec-p256 (default), ec-p384, rsa-2048, "
                 "rsa-3072 or rsa-4096")
      ->type_name("TYPE");
  kc->add_option("--days", args.days, "validity in days (default the client profile's)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  kc->add_option("--out", args.out,
                 "the kubeconfig to write (atomically, mode 0600); '-': standard output")
      ->required()
      ->type_name("FILE");
  kc->add_flag("--force", args.force, "replace an existing file");
  add_output_option(kc, args.output);
  kc->callback([&] { exit_code = kubeconfig(ctx, args); });

  auto* exp = k8s->add_subcommand("check-expiration",
                                  "when each certificate of a written tree expires (as kubeadm's)");
  exp->add_option("--dir", args.dir,
                  "the folder 'hwca k8s certs' wrote (DIR/<node>/...), or one node's own tree "
                  "(its /etc/kubernetes)")
      ->required()
      ->type_name("DIR");
  exp->add_option("--node", args.nodes, "only this node (repeat for more)")->type_name("NAME");
  add_output_option(exp, args.output, {{"table", OutputFormat::text}});
  exp->callback([&] { exit_code = check_expiration(args); });
}

}  // namespace hwca::cli
