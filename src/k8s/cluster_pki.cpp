#include "k8s/cluster_pki.hpp"

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "ca/ca_init.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/issuer.hpp"
#include "ca/profile.hpp"
#include "ca/serial.hpp"
#include "common/file_util.hpp"
#include "k8s/credential.hpp"
#include "k8s/kubeconfig.hpp"
#include "k8s/leaf_key.hpp"
#include "k8s/output_tree.hpp"
#include "k8s/parallel.hpp"
#include "k8s/plan.hpp"
#include "k8s/service_account.hpp"

namespace hwca::k8s {
namespace {

constexpr mode_t kPublicMode = 0644;
constexpr mode_t kSecretMode = 0600;

// One CA of the cluster, by hwca name (two roles may share one).
struct CaInfo {
  ossl::Ptr<X509> cert;
  std::string cert_pem;    // what pki/ca.crt and friends hold: the CA alone (the trust anchor)
  std::string chain_tail;  // appended to its leaves: the CA and any CA above it but the root
  std::unique_ptr<ca::Issuer> issuer;  // opened only when it must sign
};

// One planned certificate and what happens to it.
struct Work {
  const PlannedCert* plan = nullptr;
  ca::Profile profile;
  Outcome outcome = Outcome::kept;
  std::string reason;
  std::optional<Credential> existing;  // when kept
  std::string csr;                     // when issued: the request, the key, the certificate
  SecureString key_pem;
  std::string cert_pem;
  std::time_t not_after = 0;
};

Result<CaInfo> load_ca(const ca::Home& home, const std::string& name, const char* role) {
  auto cert = ca::load_ca_cert(home, name);
  if (!cert) return wrap(cert.error(), std::string("cas.") + role);
  auto tail = chain_below_root(home, name);
  if (!tail) return wrap(tail.error(), std::string("cas.") + role);
  CaInfo info;
  info.cert_pem = ca::cert_pem(cert->get());
  info.chain_tail = std::move(*tail);
  info.cert = std::move(*cert);
  return info;
}

// Keys and requests for every certificate to issue, on `threads` threads.
Status make_requests(OSSL_LIB_CTX* libctx, std::vector<Work*>& todo, tokens::KeyType type,
                     const PkiOptions& options) {
  std::atomic<size_t> done{0};
  std::vector<std::optional<Error>> errors(todo.size());
  // The calling thread is the one that reports progress.
  run_parallel(todo.size(), thread_count(options.threads), [&](size_t i, bool report) {
    if (report && options.progress) options.progress("keys", done.load(), todo.size());
    Work& w = *todo[i];
    auto key = generate_leaf_key(libctx, type);
    auto csr =
        key ? make_csr_der(libctx, key->get(), w.plan->common_name, w.plan->groups, w.plan->sans)
            : Result<std::string>(tl::unexpected(key.error()));
    auto pem =
        csr ? private_key_pem(key->get()) : Result<SecureString>(tl::unexpected(csr.error()));
    if (!pem) {
      errors[i] = pem.error();
      return;
    }
    w.csr = std::move(*csr);
    w.key_pem = std::move(*pem);
    ++done;
  });
  if (options.progress) options.progress("keys", done.load(), todo.size());
  for (auto& e : errors) {
    if (e) return tl::unexpected(*e);
  }
  return {};
}

// What a run has issued and recorded so far: a run that fails after that says so, since
// those certificates exist (in the database and the audit log) though none was written.
class IssuedSoFar {
 public:
  explicit IssuedSoFar(size_t planned) : planned_(planned) {}
  void add(const std::string& ca, const std::string& serial) {
    serials_[ca].push_back(serial);
    ++count_;
  }
  Error explain(Error e) const {
    if (count_ == 0) return e;
    constexpr std::string_view kNothing = "nothing issued: ";
    std::string cause = e.message;
    if (cause.compare(0, kNothing.size(), kNothing) == 0) cause.erase(0, kNothing.size());
    std::string text = std::to_string(count_) + " of " + std::to_string(planned_) +
                       " certificates were issued and recorded, then the run stopped and wrote "
                       "none of them: " +
                       cause + " (";
    bool first = true;
    for (const auto& [ca, serials] : serials_) {
      text += std::string(first ? "" : "; ") + "CA '" + ca + "': ";
      first = false;
      constexpr size_t kShown = 3;
      for (size_t i = 0; i < serials.size() && i < kShown; ++i) {
        text += (i ? ", " : "") + serials[i];
      }
      if (serials.size() > kShown) {
        text += " and " + std::to_string(serials.size() - kShown) + " more";
      }
    }
    text += "; 'hwca cert list' shows them, the next run issues new ones)";
    return Error{e.kind, std::move(text)};
  }

 private:
  size_t planned_;
  size_t count_ = 0;
  std::map<std::string, std::vector<std::string>> serials_;
};

Status issue_all(const ca::Home& home, const ca::CryptoContext& crypto, ca::IssuanceStore& store,
                 const Cluster& cluster, std::map<std::string, CaInfo>& cas,
                 std::vector<Work*>& todo, const PkiOptions& options, IssuedSoFar& so_far) {
  if (todo.empty()) return {};
  std::map<std::string, std::vector<Work*>> by_ca;
  for (Work* w : todo) by_ca[ca_name_for(cluster, w->plan->ca)].push_back(w);
  // Every CA that must sign is checked (valid, not revoked, its key in the token and
  // matching) before any of them signs.
  for (auto& [name, works] : by_ca) {
    auto issuer = ca::Issuer::open(home, crypto, store, name, options.key_options);
    if (!issuer) return tl::unexpected(issuer.error());
    cas.at(name).issuer = std::move(*issuer);
  }
  if (auto ok = make_requests(crypto.libctx(), todo, cluster.leaf_key_type, options); !ok) {
    return ok;
  }
  for (auto& [name, works] : by_ca) {
    CaInfo& info = cas.at(name);
    std::vector<ca::SignRequest> requests;
    requests.reserve(works.size());
    for (Work* w : works) {
      requests.push_back({w->csr, w->plan->node + "/" + w->plan->name, w->plan->profile,
                          std::nullopt, options.requester});
    }
    if (options.progress) options.progress("signing", 0, requests.size());
    auto issued = info.issuer->issue_batch(requests);
    if (!issued) return tl::unexpected(so_far.explain(issued.error()));
    for (size_t i = 0; i < works.size(); ++i) {
      so_far.add(name, (*issued)[i].record.serial);
      works[i]->cert_pem = ca::cert_pem((*issued)[i].cert.get()) + info.chain_tail;
      works[i]->not_after = (*issued)[i].record.not_after;
    }
  }
  return {};
}

// A kubeconfig's cluster, server, CA and user as the plan has them (no certificate, no key).
Kubeconfig kubeconfig_frame(const Cluster& cluster, const CaInfo& kube_ca, const PlannedCert& p) {
  Kubeconfig config;
  config.cluster = cluster.name;
  config.server = p.server;
  config.ca_pem = kube_ca.cert_pem;
  config.user = p.common_name;
  return config;
}

// Write `data` to the node's `rel` unless the file already holds exactly that.
Status write_if_changed(OutputTree& tree, const std::string& node, const std::string& rel,
                        std::string_view data, mode_t mode) {
  auto current = read_file(tree.node_path(node, rel), 1 << 20);
  bool same = current && *current == data;
  if (current) OPENSSL_cleanse(current->data(), current->size());
  if (same) return {};
  return tree.write(node, rel, data, mode);
}

Status write_work(OutputTree& tree, const Cluster& cluster, const CaInfo& kube_ca, Work& w) {
  const PlannedCert& p = *w.plan;
  bool fresh = w.outcome != Outcome::kept;
  const std::string& cert_pem = fresh ? w.cert_pem : w.existing->cert_pem;
  if (!p.kubeconfig) {
    if (!fresh) return {};
    if (auto ok = tree.write(p.node, p.path + ".crt", cert_pem, kPublicMode); !ok) return ok;
    return tree.write(p.node, p.path + ".key", w.key_pem.view(), kSecretMode);
  }
  // A kept kubeconfig read as render_kubeconfig's own text for the same values is current.
  if (!fresh && w.existing->as_rendered) return {};
  Kubeconfig config = kubeconfig_frame(cluster, kube_ca, p);
  config.cert_pem = cert_pem;
  config.key_pem = fresh ? w.key_pem.clone() : w.existing->key_pem.clone();
  SecureString text = render_kubeconfig(config);
  if (fresh) return tree.write(p.node, p.path, text.view(), kSecretMode);
  auto current = read_file(tree.node_path(p.node, p.path), 1 << 20);
  bool same = current && *current == text.view();
  if (current) OPENSSL_cleanse(current->data(), current->size());
  if (same) return {};
  w.reason = "server or CA data updated";
  return tree.write(p.node, p.path, text.view(), kSecretMode);
}

// What happens to each planned certificate of the nodes in scope: kept, or issued (with
// the reason) when missing, unusable, asked to be renewed or no longer right. The existing
// files are read and checked on `options.threads` threads.
Result<std::vector<Work>> decide(const ca::Home& home, ca::IssuanceStore& store,
                                 const Cluster& cluster, const std::vector<PlannedCert>& plan,
                                 const std::map<std::string, CaInfo>& cas, const OutputTree& tree,
                                 const PkiOptions& options) {
  const std::time_t now = std::time(nullptr);
  const bool renew_all = options.renew.count("all") > 0;
  std::vector<Work> works;
  for (const PlannedCert& p : plan) {
    if (!options.nodes.empty() && !options.nodes.count(p.node)) continue;
    Work w;
    w.plan = &p;
    auto profile = ca::find_profile(home.config().profiles, p.profile);
    if (!profile) return tl::unexpected(profile.error());
    w.profile = std::move(*profile);
    works.push_back(std::move(w));
  }
  // A kept certificate must not be revoked: each CA's revoked serials, read once. The CA
  // certificates are shared by the threads: their extensions are cached before.
  std::map<std::string, std::set<std::string>> revoked;
  for (const auto& [name, info] : cas) {
    X509_check_purpose(info.cert.get(), -1, 0);
    auto rows = store.revoked(name);
    if (!rows) return tl::unexpected(rows.error());
    auto& serials = revoked[name];  // every CA has its set: the threads only read the map
    for (const auto& row : *rows) serials.insert(row.serial);
  }
  const CaInfo& kube_ca = cas.at(cluster.kubernetes_ca);
  run_parallel(works.size(), thread_count(options.threads), [&](size_t i, bool) {
    Work& w = works[i];
    const PlannedCert& p = *w.plan;
    Kubeconfig frame;
    if (p.kubeconfig) frame = kubeconfig_frame(cluster, kube_ca, p);
    auto existing = read_credential(tree.node_path(p.node, ""), p, p.kubeconfig ? &frame : nullptr);
    const std::string& ca = ca_name_for(cluster, p.ca);
    const CaInfo& info = cas.at(ca);
    if (!existing) {
      bool missing = existing.error().kind == ErrorKind::not_found;
      w.outcome = missing ? Outcome::issued : Outcome::replaced;
      w.reason = missing ? "" : existing.error().message;
    } else if (renew_all || options.renew.count(p.name)) {
      w.outcome = Outcome::renewed;
    } else if (auto why = replace_reason(*existing, p, w.profile, info.cert.get(),
                                         cluster.leaf_key_type, now)) {
      w.outcome = Outcome::replaced;
      w.reason = *why;
    } else if (revoked.at(ca).count(ca::serial_hex(X509_get0_serialNumber(existing->cert.get())))) {
      w.outcome = Outcome::replaced;
      w.reason = "it has been revoked";
    } else {
      w.not_after = ca::unix_time(X509_get0_notAfter(existing->cert.get()));
      w.existing = std::move(*existing);
    }
  });
  return works;
}

// Stage one node's changes: the CA files, the service-account pair (control planes), and
// its certificates, keys and kubeconfigs.
Status stage_node(OutputTree& tree, const Cluster& cluster, const Node& node,
                  const std::map<std::string, CaInfo>& cas, const ServiceAccount* sa,
                  std::vector<Work*>& works) {
  const bool cp = node.role == Role::control_plane;
  for (CaRole role : {CaRole::kubernetes, CaRole::etcd, CaRole::front_proxy}) {
    if (!cp && role != CaRole::kubernetes) continue;
    const CaInfo& info = cas.at(ca_name_for(cluster, role));
    if (auto ok = write_if_changed(tree, node.name, ca_role_file(role), info.cert_pem, kPublicMode);
        !ok) {
      return ok;
    }
  }
  if (cp && sa) {
    if (auto ok =
            write_if_changed(tree, node.name, kServiceAccountKey, sa->key_pem.view(), kSecretMode);
        !ok) {
      return ok;
    }
    if (auto ok = write_if_changed(tree, node.name, kServiceAccountPub, sa->pub_pem, kPublicMode);
        !ok) {
      return ok;
    }
  }
  const CaInfo& kube_ca = cas.at(cluster.kubernetes_ca);
  for (Work* w : works) {
    if (auto ok = write_work(tree, cluster, kube_ca, *w); !ok) return ok;
  }
  return {};
}

}  // namespace

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::kept:
      return "kept";
    case Outcome::issued:
      return "issued";
    case Outcome::replaced:
      return "replaced";
    case Outcome::renewed:
      return "renewed";
  }
  return "?";
}

Result<PkiReport> write_cluster_pki(const ca::Home& home, const ca::CryptoContext& crypto,
                                    ca::IssuanceStore& store, const Cluster& cluster,
                                    const std::string& out_dir, const PkiOptions& options) {
  std::vector<const Node*> nodes;
  for (const Node& n : cluster.nodes) {
    if (options.nodes.empty() || options.nodes.count(n.name)) nodes.push_back(&n);
  }
  for (const auto& name : options.nodes) {
    bool known = std::any_of(cluster.nodes.begin(), cluster.nodes.end(),
                             [&](const Node& n) { return n.name == name; });
    if (!known) return fail(ErrorKind::usage, "no node '" + name + "' in the cluster description");
  }
  auto plan = plan_certs(cluster);
  if (!plan) return tl::unexpected(plan.error());

  std::map<std::string, CaInfo> cas;
  const std::pair<CaRole, const char*> roles[] = {{CaRole::kubernetes, "kubernetes"},
                                                  {CaRole::etcd, "etcd"},
                                                  {CaRole::front_proxy, "frontProxy"}};
  for (const auto& [role, key] : roles) {
    const std::string& name = ca_name_for(cluster, role);
    if (cas.count(name)) continue;
    auto info = load_ca(home, name, key);
    if (!info) return tl::unexpected(info.error());
    cas.emplace(name, std::move(*info));
  }

  PkiReport report;
  auto tree = OutputTree::open(out_dir, report.notes);
  if (!tree) return tl::unexpected(tree.error());
  auto works = decide(home, store, cluster, *plan, cas, *tree, options);
  if (!works) return tl::unexpected(works.error());
  // The service-account key is settled before anything is signed (keys that disagree stop
  // the run with nothing issued); a new one (RSA, slow and random in time) is made beside
  // the leaf keys.
  std::future<Result<ServiceAccount>> sa_future;
  if (std::any_of(nodes.begin(), nodes.end(),
                  [](const Node* n) { return n->role == Role::control_plane; })) {
    auto found = existing_service_account_key(*tree, cluster);
    if (!found) return tl::unexpected(found.error());
    if (!*found)
      report.notes.push_back("generated a new service-account key (pki/sa.key, RSA 2048)");
    sa_future =
        std::async(std::launch::async, service_account_pair, std::move(*found), crypto.libctx());
  }
  std::vector<Work*> todo;
  std::map<std::string, std::vector<Work*>> by_node;
  for (Work& w : *works) {
    if (w.outcome != Outcome::kept) todo.push_back(&w);
    by_node[w.plan->node].push_back(&w);
  }
  IssuedSoFar so_far(todo.size());
  auto issued = issue_all(home, crypto, store, cluster, cas, todo, options, so_far);
  std::optional<ServiceAccount> sa;
  if (sa_future.valid()) {
    auto pair = sa_future.get();
    if (!pair && issued) return tl::unexpected(so_far.explain(pair.error()));
    if (pair) sa = std::move(*pair);
  }
  if (!issued) return tl::unexpected(issued.error());

  size_t staged = 0;
  for (const Node* node : nodes) {
    if (auto ok = stage_node(*tree, cluster, *node, cas, sa ? &*sa : nullptr, by_node[node->name]);
        !ok) {
      return tl::unexpected(so_far.explain(ok.error()));
    }
    if (options.progress) options.progress("writing", ++staged, nodes.size());
  }
  report.nodes_written = tree->staged_nodes();
  if (auto ok = tree->commit(); !ok) return tl::unexpected(so_far.explain(ok.error()));

  for (const Work& w : *works) {
    report.rows.push_back({w.plan->node, w.plan->name, ca_name_for(cluster, w.plan->ca), w.outcome,
                           w.reason, w.not_after});
  }
  return report;
}

}  // namespace hwca::k8s
