// The cluster PKI in process, with the three CA keys in SoftHSM2 (also run under the
// sanitizers, which the command-line scripts are not): a whole run, a re-run that keeps
// everything, a renewal of one name on one node, and a CA that cannot sign refusing the
// run before any certificate is issued.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>

#include "ca/audit_log.hpp"
#include "ca/ca_init.hpp"
#include "ca/revocation.hpp"
#include "ca/serial.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "common/file_util.hpp"
#include "integration_env.hpp"
#include "k8s/cluster_pki.hpp"
#include "k8s/credential.hpp"
#include "k8s/kubeconfig.hpp"
#include "support/forwarding_store.hpp"
#include "support/temp_dir.hpp"

namespace hwca::test {
namespace {
namespace fs = std::filesystem;

constexpr int kWorkers = 20;

std::string cluster_text() {
  std::string text = R"(apiVersion: hwca/v1
kind: Cluster
controlPlaneEndpoint: 10.0.0.10:6443
cas: {kubernetes: k8s-ca, etcd: etcd-ca, frontProxy: front-proxy-ca}
nodes:
- {name: cp1, role: control-plane, addresses: [10.0.0.11]}
- {name: cp2, role: control-plane, addresses: [10.0.0.12]}
)";
  for (int i = 1; i <= kWorkers; ++i) {
    text += "- {name: w" + std::to_string(i) + ", role: worker, addresses: [10.0.1." +
            std::to_string(i) + "]}\n";
  }
  return text;
}

size_t count(const k8s::PkiReport& r, k8s::Outcome outcome) {
  return static_cast<size_t>(
      std::count_if(r.rows.begin(), r.rows.end(),
                    [&](const k8s::PkiRow& row) { return row.outcome == outcome; }));
}

class K8sPki : public ::testing::Test {
 protected:
  void SetUp() override {
    auto crypto = ca::CryptoContext::create();
    ASSERT_TRUE(crypto) << crypto.error().message;
    crypto_ = std::move(*crypto);
    auto home = ca::Home::open(dir_.file("home"), /*create=*/true);
    ASSERT_TRUE(home) << home.error().message;
    home_.emplace(std::move(*home));
    auto store = ca::SqliteIssuanceStore::open(home_->path(home_->config().database));
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    // The root above front-proxy-ca lets a test revoke that CA.
    init("root", "", keys().root);
    init("k8s-ca", "", keys().k8s);
    init("etcd-ca", "", keys().etcd);
    init("front-proxy-ca", "root", keys().front_proxy);
    auto cluster = k8s::parse_cluster(cluster_text(), "cluster.yaml");
    ASSERT_TRUE(cluster) << cluster.error().message;
    cluster_ = *cluster;
  }

  struct Keys {
    std::string root, k8s, etcd, front_proxy;
  };
  static const Keys& keys() {  // made once in the shared token
    static const Keys k = {make_key("k8s-test-root", tokens::KeyType::ec_p256),
                           make_key("k8s-test-k8s", tokens::KeyType::ec_p256),
                           make_key("k8s-test-etcd", tokens::KeyType::ec_p256),
                           make_key("k8s-test-fp", tokens::KeyType::ec_p256)};
    return k;
  }

  void init(const std::string& name, const std::string& parent, const std::string& key) {
    ca::InitCaRequest req;
    req.name = name;
    req.key_uri = key;
    req.subject = "/CN=" + name;
    req.parent = parent;
    req.key_options = key_options();
    req.requester = "test:k8s";
    req.store = store_.get();
    auto made = ca::init_ca(*home_, *crypto_, req);
    ASSERT_TRUE(made) << made.error().message;
  }

  Result<k8s::PkiReport> run(k8s::PkiOptions options = {}, ca::IssuanceStore* store = nullptr) {
    options.key_options = key_options();
    options.requester = "test:k8s";
    options.threads = 2;
    return k8s::write_cluster_pki(*home_, *crypto_, store ? *store : *store_, cluster_,
                                  dir_.file("out"), options);
  }

  size_t stored() {
    auto rows = store_->list(std::nullopt, std::nullopt);
    EXPECT_TRUE(rows) << rows.error().message;
    return rows ? rows->size() : 0;
  }

  TempDir dir_;
  std::unique_ptr<ca::CryptoContext> crypto_;
  std::optional<ca::Home> home_;
  std::unique_ptr<ca::SqliteIssuanceStore> store_;
  k8s::Cluster cluster_;
};

TEST_F(K8sPki, WritesEveryNodeThenKeepsIt) {
  const size_t leaves = 2 * 12 + kWorkers;
  auto first = run();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->rows.size(), leaves);
  EXPECT_EQ(count(*first, k8s::Outcome::issued), leaves);
  EXPECT_EQ(first->nodes_written, 2u + kWorkers);
  EXPECT_EQ(stored(), leaves + 4);  // and the four CA certificates
  auto audit = ca::AuditLog::verify(home_->path(home_->config().audit_log));
  ASSERT_TRUE(audit) << audit.error().message;
  for (const char* f :
       {"cp1/pki/apiserver.key", "cp2/pki/etcd/peer.key", "w7/kubelet.conf", "cp1/pki/sa.key"}) {
    struct stat st {};
    ASSERT_EQ(::stat(dir_.file(std::string("out/") + f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  EXPECT_FALSE(fs::exists(dir_.file("out/.hwca-staging")));

  auto second = run();
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(count(*second, k8s::Outcome::kept), leaves);
  EXPECT_EQ(second->nodes_written, 0u);
  EXPECT_EQ(stored(), leaves + 4);
}

TEST_F(K8sPki, RenewsOneNameOnOneNode) {
  ASSERT_TRUE(run());
  k8s::PkiOptions options;
  options.renew = {"etcd-peer"};
  options.nodes = {"cp2"};
  auto renewed = run(options);
  ASSERT_TRUE(renewed) << renewed.error().message;
  ASSERT_EQ(renewed->rows.size(), 12u);  // cp2's only
  EXPECT_EQ(count(*renewed, k8s::Outcome::renewed), 1u);
  EXPECT_EQ(count(*renewed, k8s::Outcome::kept), 11u);
  EXPECT_EQ(renewed->nodes_written, 1u);
}

TEST_F(K8sPki, ACaThatCannotSignStopsTheRunBeforeAnythingIsIssued) {
  auto revoked = ca::revoke_certificate(
      *home_, *store_, "root",
      [&] {
        auto rows = store_->list(std::nullopt, std::nullopt);
        for (const auto& r : *rows) {
          if (r.subject == "CN=front-proxy-ca") return r.serial;
        }
        return std::string();
      }(),
      1, "test:k8s");
  ASSERT_TRUE(revoked) << revoked.error().message;
  const size_t before = stored();
  auto result = run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::conflict);
  EXPECT_NE(result.error().message.find("revoked"), std::string::npos) << result.error().message;
  EXPECT_EQ(stored(), before) << "certificates were issued by a run that failed";
  EXPECT_FALSE(fs::exists(dir_.file("out"))) << "a failed first run left its folder behind";
}

// The CAs sign one batch each (etcd-ca, front-proxy-ca, k8s-ca); the database refuses the
// second batch: the first one's certificates exist, and the error says how many and which.
TEST_F(K8sPki, AFailureAfterSomeSignaturesSaysWhatWasIssued) {
  class FailingSecondBatch : public ForwardingStore {
   public:
    using ForwardingStore::ForwardingStore;
    Status record(const std::vector<ca::IssuedCert>& batch) override {
      if (++batches_ == 2) return fail(ErrorKind::io, "disk full (test)");
      return inner_.record(batch);
    }

   private:
    int batches_ = 0;
  };
  FailingSecondBatch failing(*store_);
  const size_t before = stored();
  auto result = run({}, &failing);
  ASSERT_FALSE(result);
  const size_t recorded = stored() - before;
  ASSERT_GT(recorded, 0u);
  const std::string& message = result.error().message;
  EXPECT_EQ(result.error().kind, ErrorKind::io);
  EXPECT_NE(message.find(std::to_string(recorded) + " of " + std::to_string(2 * 12 + kWorkers) +
                         " certificates were issued and recorded"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("disk full (test)"), std::string::npos) << message;
  EXPECT_EQ(message.find("nothing issued"), std::string::npos) << message;
  auto rows = store_->list(std::string("etcd-ca"), std::nullopt);
  ASSERT_TRUE(rows);
  rows->erase(std::remove_if(rows->begin(), rows->end(),
                             [](const ca::IssuedCert& r) { return r.subject == "CN=etcd-ca"; }),
              rows->end());
  ASSERT_EQ(rows->size(), recorded);
  EXPECT_NE(message.find("CA 'etcd-ca': "), std::string::npos) << message;
  size_t named = 0;
  for (const auto& row : *rows) named += message.find(row.serial) != std::string::npos;
  EXPECT_EQ(named, std::min<size_t>(recorded, 3)) << message;
  EXPECT_FALSE(fs::exists(dir_.file("out"))) << "a failed first run left its folder behind";
}

// A re-run keeps nothing revoked: the certificate is replaced, the node written again.
TEST_F(K8sPki, ARevokedCertificateIsReplacedNotKept) {
  ASSERT_TRUE(run());
  auto cert = k8s::read_certificate_file(dir_.file("out/w1/kubelet.conf"));
  ASSERT_TRUE(cert) << cert.error().message;
  const std::string serial = ca::serial_hex(X509_get0_serialNumber(cert->get()));
  auto revoked = ca::revoke_certificate(*home_, *store_, "k8s-ca", serial, 1, "test:k8s");
  ASSERT_TRUE(revoked) << revoked.error().message;
  auto again = run();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(count(*again, k8s::Outcome::replaced), 1u);
  for (const auto& row : again->rows) {
    if (row.outcome != k8s::Outcome::replaced) continue;
    EXPECT_EQ(row.node + "/" + row.name, "w1/kubelet.conf");
    EXPECT_EQ(row.reason, "it has been revoked");
  }
  EXPECT_EQ(again->nodes_written, 1u);
  auto now = k8s::read_certificate_file(dir_.file("out/w1/kubelet.conf"));
  ASSERT_TRUE(now) << now.error().message;
  EXPECT_NE(ca::serial_hex(X509_get0_serialNumber(now->get())), serial);
}

// Kubeconfigs in hwca's own layout are read without a YAML parser on a re-run; that keeps
// every check: another node's credential in that layout is replaced, and the same values in
// another layout are kept and written again in hwca's.
TEST_F(K8sPki, AKeptKubeconfigIsCheckedWhateverItsLayout) {
  ASSERT_TRUE(run());
  auto read = [&](const std::string& rel) {
    auto text = read_file(dir_.file("out/" + rel));
    EXPECT_TRUE(text) << rel;
    auto config = k8s::parse_kubeconfig(text ? *text : "", rel);
    EXPECT_TRUE(config) << rel;
    return config ? std::move(*config) : k8s::Kubeconfig{};
  };
  k8s::Kubeconfig w1 = read("w1/kubelet.conf"), w2 = read("w2/kubelet.conf");
  w1.cert_pem = w2.cert_pem;  // w2's credential under w1's name, in hwca's own layout
  w1.key_pem = w2.key_pem.clone();
  ASSERT_TRUE(
      write_file_atomic(dir_.file("out/w1/kubelet.conf"), render_kubeconfig(w1).view(), 0600));
  auto w3 = read_file(dir_.file("out/w3/kubelet.conf"));
  ASSERT_TRUE(w3);
  YAML::Emitter relaid;
  relaid << YAML::Load(*w3);
  ASSERT_NE(std::string(relaid.c_str()) + "\n", *w3);
  ASSERT_TRUE(write_file_atomic(dir_.file("out/w3/kubelet.conf"), relaid.c_str(), 0600));

  auto again = run();
  ASSERT_TRUE(again) << again.error().message;
  std::map<std::string, const k8s::PkiRow*> rows;
  for (const auto& row : again->rows) rows[row.node + "/" + row.name] = &row;
  ASSERT_TRUE(rows.count("w1/kubelet.conf") && rows.count("w3/kubelet.conf"));
  EXPECT_EQ(rows["w1/kubelet.conf"]->outcome, k8s::Outcome::replaced);
  EXPECT_EQ(rows["w1/kubelet.conf"]->reason, "its common name differs");
  EXPECT_EQ(rows["w3/kubelet.conf"]->outcome, k8s::Outcome::kept);
  EXPECT_EQ(rows["w3/kubelet.conf"]->reason, "server or CA data updated");
  EXPECT_EQ(count(*again, k8s::Outcome::kept), 2 * 12 + kWorkers - 1);
  EXPECT_EQ(again->nodes_written, 2u);
  auto rewritten = read_file(dir_.file("out/w3/kubelet.conf"));
  ASSERT_TRUE(rewritten);
  EXPECT_EQ(*rewritten, std::string(render_kubeconfig(read("w3/kubelet.conf")).view()));
}

}  // namespace
}  // namespace hwca::test
