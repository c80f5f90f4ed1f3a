// Kubeconfigs: the structure of ../shared/reference/kubernetes-pki.md (read back with
// yaml-cpp, not with the code under test), a round trip, and what reading refuses.
#include "k8s/kubeconfig.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "common/base64.hpp"
#include "k8s/leaf_key.hpp"

namespace hwca::k8s {
namespace {

// A key made at run time (no key text lives in the repository), the same for every call.
const SecureString& sample_key() {
  static const SecureString pem = [] {
    ossl::Ptr<EVP_PKEY> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    auto text = private_key_pem(key.get());
    return text ? std::move(*text) : SecureString();
  }();
  return pem;
}

Kubeconfig sample() {
  Kubeconfig c;
  c.cluster = "kubernetes";
  c.server = "https://10.0.0.10:6443";
  c.ca_pem = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
  c.user = "system:node:w1";
  c.cert_pem = "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n";
  c.key_pem = sample_key().clone();
  return c;
}

TEST(Kubeconfig, HasKubeadmsStructure) {
  ASSERT_FALSE(sample_key().empty());
  SecureString text = render_kubeconfig(sample());
  YAML::Node root = YAML::Load(std::string(text.view()));
  EXPECT_EQ(root["apiVersion"].as<std::string>(), "v1");
  EXPECT_EQ(root["kind"].as<std::string>(), "Config");
  ASSERT_EQ(root["clusters"].size(), 1u);
  EXPECT_EQ(root["clusters"][0]["name"].as<std::string>(), "kubernetes");
  EXPECT_EQ(root["clusters"][0]["cluster"]["server"].as<std::string>(), "https://10.0.0.10:6443");
  EXPECT_EQ(*base64_decode(
                root["clusters"][0]["cluster"]["certificate-authority-data"].as<std::string>()),
            sample().ca_pem);
  ASSERT_EQ(root["contexts"].size(), 1u);
  EXPECT_EQ(root["contexts"][0]["name"].as<std::string>(), "system:node:w1@kubernetes");
  EXPECT_EQ(root["contexts"][0]["context"]["cluster"].as<std::string>(), "kubernetes");
  EXPECT_EQ(root["contexts"][0]["context"]["user"].as<std::string>(), "system:node:w1");
  EXPECT_EQ(root["current-context"].as<std::string>(), "system:node:w1@kubernetes");
  ASSERT_EQ(root["users"].size(), 1u);
  EXPECT_EQ(root["users"][0]["name"].as<std::string>(), "system:node:w1");
  YAML::Node user = root["users"][0]["user"];
  EXPECT_EQ(*base64_decode(user["client-certificate-data"].as<std::string>()),
            sample().cert_pem);
  EXPECT_EQ(*base64_decode(user["client-key-data"].as<std::string>()),
            std::string(sample().key_pem.view()));
}

TEST(Kubeconfig, ReadsBackWhatItWrote) {
  SecureString text = render_kubeconfig(sample());
  auto c = parse_kubeconfig(text.view(), "kubelet.conf");
  ASSERT_TRUE(c) << c.error().message;
  Kubeconfig want = sample();
  EXPECT_EQ(c->cluster, want.cluster);
  EXPECT_EQ(c->server, want.server);
  EXPECT_EQ(c->ca_pem, want.ca_pem);
  EXPECT_EQ(c->user, want.user);
  EXPECT_EQ(c->cert_pem, want.cert_pem);
  EXPECT_EQ(c->key_pem.view(), want.key_pem.view());
}

TEST(Kubeconfig, ReadsTheCurrentContextOfSeveral) {
  SecureString a = render_kubeconfig(sample());
  YAML::Node root = YAML::Load(std::string(a.view()));
  YAML::Node other = YAML::Clone(root["users"][0]);
  other["name"] = "other";
  other["user"]["client-certificate-data"] = base64_encode("OTHER");
  root["users"].push_back(other);
  YAML::Node ctx = YAML::Clone(root["contexts"][0]);
  ctx["name"] = "other@kubernetes";
  ctx["context"]["user"] = "other";
  root["contexts"].push_back(ctx);
  root["current-context"] = "other@kubernetes";
  YAML::Emitter out;
  out << root;
  auto c = parse_kubeconfig(out.c_str(), "x.conf");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->user, "other");
  EXPECT_EQ(c->cert_pem, "OTHER");
}

void expect_refused(const std::string& text, const std::string& part) {
  auto c = parse_kubeconfig(text, "admin.conf");
  ASSERT_FALSE(c) << text;
  EXPECT_NE(c.error().message.find(part), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("admin.conf"), std::string::npos) << c.error().message;
}

TEST(Kubeconfig, RefusesWhatItCannotUse) {
  std::string good(render_kubeconfig(sample()).view());
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  expect_refused("just text", "not a kubeconfig");
  expect_refused("a: [1, 2", "line");
  expect_refused(replace("current-context:", "current-contex:"), "current-context");
  expect_refused(replace("current-context: system:node:w1@kubernetes",
                         "current-context: nobody@kubernetes"),
                 "no context");
  expect_refused(replace("client-key-data: ", "client-key-data: x.y"), "not base64");
  expect_refused(replace("client-certificate-data:", "client-certificate:"),
                 "client-certificate-data");
}

// The frame a re-run of `hwca k8s certs` expects: the sample without its certificate and key.
Kubeconfig frame_of(const Kubeconfig& c) {
  Kubeconfig f;
  f.cluster = c.cluster;
  f.server = c.server;
  f.ca_pem = c.ca_pem;
  f.user = c.user;
  return f;
}

TEST(Kubeconfig, MatchRenderedReadsItsOwnTextWithoutAParser) {
  SecureString text = render_kubeconfig(sample());
  auto c = match_rendered(text.view(), frame_of(sample()));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->cert_pem, sample().cert_pem);
  EXPECT_EQ(c->key_pem.view(), sample().key_pem.view());
  EXPECT_EQ(c->server, sample().server);
}

TEST(Kubeconfig, MatchRenderedTakesNothingElse) {
  std::string good(render_kubeconfig(sample()).view());
  Kubeconfig moved = frame_of(sample());
  moved.server = "https://10.0.0.99:6443";  // the plan's server changed
  EXPECT_FALSE(match_rendered(good, moved));
  Kubeconfig renamed = frame_of(sample());
  renamed.user = "system:node:w2";
  EXPECT_FALSE(match_rendered(good, renamed));
  // The same values in another layout: parse_kubeconfig reads it, match_rendered does not.
  YAML::Emitter other;
  other << YAML::Load(good);
  ASSERT_NE(std::string(other.c_str()) + "\n", good);
  EXPECT_FALSE(match_rendered(other.c_str(), frame_of(sample())));
  auto parsed = parse_kubeconfig(other.c_str(), "kubelet.conf");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->cert_pem, sample().cert_pem);
  // A line added, a value cut short, a key that is not base64.
  EXPECT_FALSE(match_rendered(good + "extra: 1\n", frame_of(sample())));
  EXPECT_FALSE(match_rendered(good.substr(0, good.size() / 2), frame_of(sample())));
  std::string bad = good;
  bad.replace(bad.find("client-key-data: \"") + 18, 1, "*");
  EXPECT_FALSE(match_rendered(bad, frame_of(sample())));
  EXPECT_FALSE(match_rendered("", frame_of(sample())));
}

}  // namespace
}  // namespace hwca::k8s
