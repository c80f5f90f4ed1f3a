// Unit tests for src/est/node_policy.hpp: the kubelet rules over requests made by plain
// OpenSSL. A node gets only CN=system:node:<its name>, O=system:nodes; kubelet-client no
// SANs; kubelet-serving at least one SAN, DNS only its own name (any case), IP only the
// addresses it registered (compared as addresses, not text); never CA:TRUE. Each refusal
// carries its reason for the metrics.
#include "est/node_policy.hpp"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "ca/request_policy.hpp"
#include "support/test_csr.hpp"

namespace {

using hwca::ErrorKind;
using hwca::est::check_node_request;
using hwca::est::node_of_subject;
using hwca::est::NodeProfile;
using hwca::est::profile_for_label;
using hwca::est::profile_name;
using hwca::est::Refusal;
using hwca::est::refusal_name;
namespace ossl = hwca::ossl;
namespace test = hwca::test;

constexpr NodeProfile kClient = NodeProfile::kubelet_client;
constexpr NodeProfile kServing = NodeProfile::kubelet_serving;
constexpr NodeProfile kCredential = NodeProfile::kubelet_credential;

const std::vector<std::string> kAddresses = {"10.0.0.5", "fd00::5"};

struct NodePolicyTest : ::testing::Test {
  ossl::Ptr<EVP_PKEY> key = test::ec_key("P-256");

  // A request with this subject and, unless empty, a subjectAltName of these names
  // (OpenSSL's syntax) and any further extensions.
  ossl::Ptr<X509_REQ> csr(const std::vector<test::NameEntry>& subject, const std::string& sans = "",
                          const std::vector<X509_EXTENSION*>& more = {}) {
    auto name = test::name_of(subject);
    std::vector<X509_EXTENSION*> exts = more;
    test::ExtPtr san(nullptr, X509_EXTENSION_free);
    if (!sans.empty()) {
      san = test::ext("subjectAltName", sans);
      exts.insert(exts.begin(), san.get());
    }
    return test::make_csr(key.get(), name.get(), exts);
  }
  ossl::Ptr<X509_REQ> node_csr(const std::string& node, const std::string& sans = "",
                               const std::vector<X509_EXTENSION*>& more = {}) {
    return csr({{"O", "system:nodes"}, {"CN", "system:node:" + node}}, sans, more);
  }

  void expect_accepted(X509_REQ* req, NodeProfile profile, const std::string& node = "worker-1",
                       const std::vector<std::string>& addresses = kAddresses) {
    auto ok = check_node_request(req, node, profile, addresses);
    EXPECT_TRUE(ok) << refusal_name(ok.error().reason) << ": " << ok.error().message;
    // What the node policy lets through, the profile of the same name issues.
    const auto& p = hwca::ca::builtin_profiles().at(profile_name(profile));
    auto approved = hwca::ca::apply_profile(p, req);
    EXPECT_TRUE(approved) << approved.error().message;
  }
  void expect_refused(X509_REQ* req, NodeProfile profile, Refusal reason, const std::string& needle,
                      const std::string& node = "worker-1",
                      const std::vector<std::string>& addresses = kAddresses) {
    auto ok = check_node_request(req, node, profile, addresses);
    ASSERT_FALSE(ok) << "accepted; expected " << refusal_name(reason) << ": " << needle;
    EXPECT_EQ(ok.error().reason, reason)
        << refusal_name(ok.error().reason) << ": " << ok.error().message;
    EXPECT_NE(ok.error().message.find(needle), std::string::npos) << ok.error().message;
    for (char c : ok.error().message) {
      EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << ok.error().message;
    }
  }
};

// ---------------------------------------------------------------------------------------
// labels and names

TEST(NodePolicyNames, LabelsAndProfileNames) {
  EXPECT_STREQ(profile_name(kClient), "kubelet-client");
  EXPECT_STREQ(profile_name(kServing), "kubelet-serving");
  auto none = profile_for_label("");
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, kClient);
  auto client = profile_for_label("kubelet-client");
  ASSERT_TRUE(client);
  EXPECT_EQ(*client, kClient);
  auto serving = profile_for_label("kubelet-serving");
  ASSERT_TRUE(serving);
  EXPECT_EQ(*serving, kServing);
  EXPECT_STREQ(profile_name(kCredential), "kubelet-credential");
  auto credential = profile_for_label("kubelet-credential");
  ASSERT_TRUE(credential);
  EXPECT_EQ(*credential, kCredential);
  for (const char* other :
       {"other", "Kubelet-Client", "kubelet-serving ", "server", "client", "kubelet", "a\nb"}) {
    auto p = profile_for_label(other);
    ASSERT_FALSE(p) << other;
    EXPECT_EQ(p.error().kind, ErrorKind::not_found);
    EXPECT_EQ(p.error().message.find('\n'), std::string::npos) << p.error().message;
  }
  // Each profile the EST labels name is a built-in issuer profile.
  for (NodeProfile p : {kClient, kServing, kCredential}) {
    EXPECT_EQ(hwca::ca::builtin_profiles().count(profile_name(p)), 1u) << profile_name(p);
  }
}

TEST(NodePolicyNames, RefusalNamesAreTheMetricLabels) {
  EXPECT_STREQ(refusal_name(Refusal::subject), "subject");
  EXPECT_STREQ(refusal_name(Refusal::group), "group");
  EXPECT_STREQ(refusal_name(Refusal::san), "san");
  EXPECT_STREQ(refusal_name(Refusal::ca), "ca");
}

// ---------------------------------------------------------------------------------------
// subject

TEST_F(NodePolicyTest, TheNodesOwnSubjectIsAccepted) {
  auto client = node_csr("worker-1");
  expect_accepted(client.get(), kClient);
  expect_accepted(client.get(), kCredential);
  // The attributes in either order (Go writes O before CN).
  auto cn_first = csr({{"CN", "system:node:worker-1"}, {"O", "system:nodes"}});
  expect_accepted(cn_first.get(), kClient);
  auto serving = node_csr("worker-1", "DNS:worker-1");
  expect_accepted(serving.get(), kServing);
}

TEST_F(NodePolicyTest, AnotherNodesNameIsRefused) {
  for (const char* cn : {"system:node:worker-2", "system:node:worker-10", "system:node:worker",
                         "system:node:worker-1 ", "system:node:", "worker-1", "system:node:*"}) {
    SCOPED_TRACE(cn);
    auto req = csr({{"O", "system:nodes"}, {"CN", cn}});
    expect_refused(req.get(), kClient, Refusal::subject,
                   "node 'worker-1' may have only CN=system:node:worker-1");
    expect_refused(req.get(), kServing, Refusal::subject, "CN");
  }
}

TEST_F(NodePolicyTest, TheCnPrefixAndNameAreCaseSensitive) {
  for (const char* cn : {"System:Node:worker-1", "SYSTEM:NODE:worker-1", "system:Node:worker-1",
                         "system:node:Worker-1", "system:node:WORKER-1", "system-node:worker-1",
                         "system:nodes:worker-1"}) {
    SCOPED_TRACE(cn);
    auto req = csr({{"O", "system:nodes"}, {"CN", cn}});
    expect_refused(req.get(), kClient, Refusal::subject, "CN");
  }
}

TEST_F(NodePolicyTest, TheGroupMustBeExactlySystemNodes) {
  struct Case {
    std::vector<test::NameEntry> subject;
    const char* needle;
  };
  const Case cases[] = {
      {{{"O", "system:masters"}, {"CN", "system:node:worker-1"}}, "'system:masters'"},
      {{{"O", "system:nodes"}, {"O", "system:masters"}, {"CN", "system:node:worker-1"}},
       "'system:nodes', 'system:masters'"},
      {{{"O", "system:masters"}, {"O", "system:nodes"}, {"CN", "system:node:worker-1"}},
       "'system:masters', 'system:nodes'"},
      {{{"O", "system:nodes"}, {"O", "system:nodes"}, {"CN", "system:node:worker-1"}},
       "'system:nodes', 'system:nodes'"},
      {{{"CN", "system:node:worker-1"}}, "(O) none"},
      {{{"O", "System:Nodes"}, {"CN", "system:node:worker-1"}}, "'System:Nodes'"},
      {{{"O", "system:node"}, {"CN", "system:node:worker-1"}}, "'system:node'"},
      {{{"O", "system:nodes "}, {"CN", "system:node:worker-1"}}, "'system:nodes '"},
      // Asking for system:masters is counted as a group refusal even with a wrong CN too.
      {{{"O", "system:masters"}, {"CN", "system:node:worker-2"}}, "'system:masters'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.needle);
    auto req = csr(c.subject);
    expect_refused(req.get(), kClient, Refusal::group, c.needle);
    expect_refused(req.get(), kClient, Refusal::group, "may have only O=system:nodes");
    auto serving = csr(c.subject, "DNS:worker-1");
    expect_refused(serving.get(), kServing, Refusal::group, c.needle);
  }
}

TEST_F(NodePolicyTest, NothingElseMayBeInTheSubject) {
  auto ou = csr({{"O", "system:nodes"}, {"OU", "ops"}, {"CN", "system:node:worker-1"}});
  expect_refused(ou.get(), kClient, Refusal::subject, "the request's subject holds OU");
  auto c = csr({{"C", "DE"}, {"O", "system:nodes"}, {"CN", "system:node:worker-1"}});
  expect_refused(c.get(), kClient, Refusal::subject, "holds C;");
  auto two_cns =
      csr({{"O", "system:nodes"}, {"CN", "system:node:worker-1"}, {"CN", "system:node:worker-1"}});
  expect_refused(two_cns.get(), kClient, Refusal::subject,
                 "'system:node:worker-1', 'system:node:worker-1'");
  auto multi = csr({{"O", "system:nodes"}, {"CN", "system:node:worker-1", true}});
  expect_refused(multi.get(), kClient, Refusal::subject, "a multi-valued RDN");
  auto email =
      csr({{"O", "system:nodes"}, {"CN", "system:node:worker-1"}, {"emailAddress", "a@b.example"}});
  expect_refused(email.get(), kServing, Refusal::subject, "emailAddress");
  auto oid = csr({{"O", "system:nodes"}, {"CN", "system:node:worker-1"}, {"1.2.3.4", "x"}});
  expect_refused(oid.get(), kClient, Refusal::subject, "an unknown attribute");
  // Empty subject: no group.
  auto empty = csr({});
  expect_refused(empty.get(), kClient, Refusal::group, "(O) none");
}

TEST_F(NodePolicyTest, AnEmptyNodeNameAcceptsNothing) {
  auto req = csr({{"O", "system:nodes"}, {"CN", "system:node:"}});
  expect_refused(req.get(), kClient, Refusal::subject, "no node name", "");
  auto serving = node_csr("", "DNS:worker-1");
  expect_refused(serving.get(), kServing, Refusal::subject, "no node name", "");
}

TEST_F(NodePolicyTest, RequestSuppliedTextIsPrintedSafely) {
  auto req = csr(
      {{"O", "system:nodes\n\x1b[31m", false, V_ASN1_UTF8STRING}, {"CN", "system:node:worker-1"}});
  expect_refused(req.get(), kClient, Refusal::group, "system:nodes\\x0a\\x1b[31m");
  auto cn =
      csr({{"O", "system:nodes"}, {"CN", "system:node:worker-1\r\n", false, V_ASN1_UTF8STRING}});
  expect_refused(cn.get(), kClient, Refusal::subject, "worker-1\\x0d\\x0a");
  GENERAL_NAMES* names = GENERAL_NAMES_new();
  sk_GENERAL_NAME_push(names, test::general_name(GEN_DNS, std::string("worker-1\nx")));
  auto ctl = test::san_ext(names);
  auto ctl_req = node_csr("worker-1", "", {ctl.get()});
  expect_refused(ctl_req.get(), kServing, Refusal::san, "worker-1\\x0ax");
}

// ---------------------------------------------------------------------------------------
// kubelet-client: no SANs

TEST_F(NodePolicyTest, AClientRequestWithAnySanIsRefused) {
  for (const char* sans :
       {"DNS:worker-1", "IP:10.0.0.5", "email:a@b.example", "URI:spiffe://cluster/node/worker-1"}) {
    SCOPED_TRACE(sans);
    auto req = node_csr("worker-1", sans);
    expect_refused(req.get(), kClient, Refusal::san, "has a subjectAltName extension");
    expect_refused(req.get(), kCredential, Refusal::san, "a kubelet-credential certificate");
  }
  // A subjectAltName extension naming nothing at all is still one.
  auto ext = test::san_ext(GENERAL_NAMES_new());
  auto empty_list = node_csr("worker-1", "", {ext.get()});
  expect_refused(empty_list.get(), kClient, Refusal::san, "kubelet-client certificate");
}

// ---------------------------------------------------------------------------------------
// kubelet-serving: its own DNS name and registered addresses only

TEST_F(NodePolicyTest, AServingRequestNamingTheNodeIsAccepted) {
  for (const char* sans :
       {"DNS:worker-1", "DNS:WORKER-1", "DNS:Worker-1", "IP:10.0.0.5", "IP:fd00::5",
        "IP:fd00:0:0:0:0:0:0:5", "IP:FD00::5", "DNS:worker-1,IP:10.0.0.5,IP:fd00::5",
        "DNS:worker-1,DNS:worker-1,IP:10.0.0.5"}) {
    SCOPED_TRACE(sans);
    auto req = node_csr("worker-1", sans);
    expect_accepted(req.get(), kServing);
  }
  // Registered addresses are compared as addresses, whatever their text.
  auto v6 = node_csr("worker-1", "IP:fd00::5");
  expect_accepted(v6.get(), kServing, "worker-1", {"FD00:0000::0005"});
}

TEST_F(NodePolicyTest, AServingRequestForAnythingElseIsRefused) {
  struct Case {
    const char* sans;
    const char* needle;
  };
  const Case cases[] = {
      {"DNS:worker-2",
       "the request names DNS:worker-2; a kubelet-serving certificate of node "
       "'worker-1' may name only DNS:worker-1"},
      {"DNS:worker-1.example", "DNS:worker-1.example"},
      {"DNS:worker-1,DNS:worker-2", "DNS:worker-2"},
      {"DNS:kubernetes.default.svc", "DNS:kubernetes.default.svc"},
      {"DNS:*.worker-1.example", "wildcard"},
      {"IP:10.0.0.6",
       "the request names IP:10.0.0.6, which node 'worker-1' did not register "
       "(registered: 10.0.0.5, fd00::5)"},
      {"IP:fd00::6", "IP:fd00::6"},
      {"IP:::ffff:10.0.0.5", "IP:::ffff:10.0.0.5"},
      {"IP:10.0.0.5,IP:127.0.0.1", "IP:127.0.0.1"},
      {"email:worker-1@cluster.example", "may name only its DNS name and IP addresses"},
      {"URI:spiffe://cluster/node/worker-1", "URI:spiffe://cluster/node/worker-1"},
      {"DNS:worker-1,email:a@b.example", "email:a@b.example"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.sans);
    auto req = node_csr("worker-1", c.sans);
    expect_refused(req.get(), kServing, Refusal::san, c.needle);
  }
}

TEST_F(NodePolicyTest, AnIpv4AddressDoesNotMatchItsMappedIpv6Form) {
  auto mapped = node_csr("worker-1", "IP:::ffff:10.0.0.5");
  expect_refused(mapped.get(), kServing, Refusal::san, "did not register");
  auto plain = node_csr("worker-1", "IP:10.0.0.5");
  expect_refused(plain.get(), kServing, Refusal::san, "did not register", "worker-1",
                 {"::ffff:10.0.0.5"});
  expect_accepted(mapped.get(), kServing, "worker-1", {"::ffff:10.0.0.5"});
}

TEST_F(NodePolicyTest, NoRegisteredAddressesMeansNoIpSans) {
  auto req = node_csr("worker-1", "IP:10.0.0.5");
  expect_refused(req.get(), kServing, Refusal::san, "(registered: none)", "worker-1", {});
  auto dns = node_csr("worker-1", "DNS:worker-1");
  expect_accepted(dns.get(), kServing, "worker-1", {});
  // A registered entry that is not an address matches nothing.
  expect_refused(req.get(), kServing, Refusal::san, "did not register", "worker-1",
                 {"worker-1", "10.0.0.5/32", ""});
}

TEST_F(NodePolicyTest, AServingRequestNeedsASan) {
  auto none = node_csr("worker-1");
  expect_refused(none.get(), kServing, Refusal::san, "the request names no SAN");
  auto ext = test::san_ext(GENERAL_NAMES_new());
  auto empty_list = node_csr("worker-1", "", {ext.get()});
  expect_refused(empty_list.get(), kServing, Refusal::san, "the request names no SAN");
}

TEST_F(NodePolicyTest, TwoSubjectAltNamesAreRefused) {
  auto first = test::ext("subjectAltName", "DNS:worker-1");
  auto second = test::ext("subjectAltName", "DNS:worker-1");
  auto req = node_csr("worker-1", "", {first.get(), second.get()});
  expect_refused(req.get(), kServing, Refusal::san, "two subjectAltName extensions");
}

TEST_F(NodePolicyTest, MalformedIpSanIsRefused) {
  GENERAL_NAMES* names = GENERAL_NAMES_new();
  sk_GENERAL_NAME_push(names, test::general_name(GEN_IPADD, std::string("\x0a\x00\x00", 3)));
  auto ext = test::san_ext(names);
  auto req = node_csr("worker-1", "", {ext.get()});
  expect_refused(req.get(), kServing, Refusal::san, "3 octets");
}

// ---------------------------------------------------------------------------------------
// never a CA

TEST_F(NodePolicyTest, CaTrueIsRefusedForBothProfiles) {
  auto ca = test::ext("basicConstraints", "critical,CA:TRUE");
  auto client = node_csr("worker-1", "", {ca.get()});
  expect_refused(client.get(), kClient, Refusal::ca, "the request asks for CA:TRUE");
  auto serving = node_csr("worker-1", "DNS:worker-1", {ca.get()});
  expect_refused(serving.get(), kServing, Refusal::ca, "CA:TRUE");
  auto pathlen = test::ext("basicConstraints", "CA:TRUE,pathlen:0");
  auto with_len = node_csr("worker-1", "", {pathlen.get()});
  expect_refused(with_len.get(), kClient, Refusal::ca, "CA:TRUE");
  // CA:TRUE wins over a SAN the profile would refuse too.
  auto both = node_csr("worker-1", "DNS:worker-1", {ca.get()});
  expect_refused(both.get(), kClient, Refusal::ca, "CA:TRUE");
}

TEST_F(NodePolicyTest, CaFalseAndOtherExtensionsAreLeftToTheProfile) {
  auto not_ca = test::ext("basicConstraints", "critical,CA:FALSE");
  auto ku = test::ext("keyUsage", "critical,digitalSignature,keyCertSign");
  auto eku = test::ext("extendedKeyUsage", "serverAuth,codeSigning");
  auto client = node_csr("worker-1", "", {not_ca.get(), ku.get(), eku.get()});
  expect_accepted(client.get(), kClient);
  auto serving = node_csr("worker-1", "DNS:worker-1", {not_ca.get(), ku.get()});
  expect_accepted(serving.get(), kServing);
}

// ---------------------------------------------------------------------------------------
// extension requests the issuer would read differently

// An attribute of type `nid` holding one extension as an extension request does, added as
// a new attribute (X509_REQ_add_extensions may merge into an existing one in later OpenSSL
// versions).
void add_extension_request(X509_REQ* req, int nid, X509_EXTENSION* ext) {
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, ext);
  unsigned char* der = nullptr;
  int len = ASN1_item_i2d(reinterpret_cast<const ASN1_VALUE*>(exts), &der,
                          ASN1_ITEM_rptr(X509_EXTENSIONS));
  sk_X509_EXTENSION_free(exts);
  ASSERT_GT(len, 0);
  EXPECT_EQ(X509_REQ_add1_attr_by_NID(req, nid, V_ASN1_SEQUENCE, der, len), 1);
  OPENSSL_free(der);
}

TEST_F(NodePolicyTest, TwoExtensionRequestsAreRefused) {
  auto ca = test::ext("basicConstraints", "CA:TRUE");
  auto san = test::ext("subjectAltName", "DNS:worker-1");
  // The issuer reads only the first: a CA:TRUE in a second one would go unseen.
  auto both_kinds = node_csr("worker-1");
  add_extension_request(both_kinds.get(), NID_ext_req, san.get());
  add_extension_request(both_kinds.get(), NID_ms_ext_req, ca.get());
  ASSERT_EQ(X509_REQ_get_attr_count(both_kinds.get()), 2);
  ASSERT_GT(X509_REQ_sign(both_kinds.get(), key.get(), EVP_sha256()), 0);
  expect_refused(both_kinds.get(), kServing, Refusal::san, "more than one extension request");

  // OpenSSL will not build two attributes of one type, but reads them: the second is made
  // as smimeCapabilities (1.2.840.113549.1.9.15) and its OID's last byte turned into
  // extensionRequest's (.14) in the DER.
  auto twice = node_csr("worker-1");
  add_extension_request(twice.get(), NID_ext_req, san.get());
  add_extension_request(twice.get(), NID_SMIMECapabilities, ca.get());
  std::string der = test::csr_der(twice.get());
  const std::string smime_oid("\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x0f", 11);
  size_t at = der.find(smime_oid);
  ASSERT_NE(at, std::string::npos);
  der[at + 10] = 0x0e;
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ossl::Ptr<X509_REQ> patched(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  ASSERT_TRUE(patched);
  ASSERT_EQ(X509_REQ_get_attr_count(patched.get()), 2);
  int first = X509_REQ_get_attr_by_NID(patched.get(), NID_ext_req, -1);
  ASSERT_GE(first, 0);
  ASSERT_GE(X509_REQ_get_attr_by_NID(patched.get(), NID_ext_req, first), 0);
  ASSERT_GT(X509_REQ_sign(patched.get(), key.get(), EVP_sha256()), 0);
  expect_refused(patched.get(), kServing, Refusal::san, "more than one extension request");

  // One in Microsoft's attribute alone is read like the PKCS#9 one.
  auto ms = node_csr("worker-1");
  add_extension_request(ms.get(), NID_ms_ext_req, ca.get());
  ASSERT_GT(X509_REQ_sign(ms.get(), key.get(), EVP_sha256()), 0);
  expect_refused(ms.get(), kClient, Refusal::ca, "CA:TRUE");
}

TEST_F(NodePolicyTest, AnExtensionRequestThatDoesNotDecodeIsRefused) {
  auto req = node_csr("worker-1");
  ASSERT_EQ(X509_REQ_add1_attr_by_NID(req.get(), NID_ext_req, V_ASN1_UTF8STRING,
                                      reinterpret_cast<const unsigned char*>("x"), 1),
            1);
  ASSERT_GT(X509_REQ_sign(req.get(), key.get(), EVP_sha256()), 0);
  expect_refused(req.get(), kClient, Refusal::san, "extension request does not decode");
}

// ---------------------------------------------------------------------------------------
// node_of_subject

TEST(NodeOfSubject, ANodesSubjectNamesTheNode) {
  auto o_first = test::name_of({{"O", "system:nodes"}, {"CN", "system:node:worker-1"}});
  EXPECT_EQ(node_of_subject(o_first.get()), "worker-1");
  auto cn_first = test::name_of({{"CN", "system:node:cp-1.example"}, {"O", "system:nodes"}});
  EXPECT_EQ(node_of_subject(cn_first.get()), "cp-1.example");
}

TEST(NodeOfSubject, AnythingElseNamesNoNode) {
  const std::vector<std::vector<test::NameEntry>> subjects = {
      {},
      {{"CN", "system:node:worker-1"}},
      {{"O", "system:nodes"}},
      {{"O", "system:masters"}, {"CN", "system:node:worker-1"}},
      {{"O", "system:nodes"}, {"O", "system:masters"}, {"CN", "system:node:worker-1"}},
      {{"O", "system:nodes"}, {"OU", "x"}, {"CN", "system:node:worker-1"}},
      {{"O", "system:nodes"}, {"CN", "system:node:worker-1"}, {"CN", "system:node:worker-2"}},
      {{"O", "system:nodes"}, {"CN", "system:node:worker-1", true}},
      {{"O", "system:nodes"}, {"CN", "system:node:"}},
      {{"O", "system:nodes"}, {"CN", "System:Node:worker-1"}},
      {{"O", "system:nodes"}, {"CN", "worker-1"}},
      {{"O", "system:nodes"}, {"CN", "kube-apiserver"}},
      {{"O", "System:Nodes"}, {"CN", "system:node:worker-1"}},
  };
  for (size_t i = 0; i < subjects.size(); ++i) {
    auto name = test::name_of(subjects[i]);
    EXPECT_EQ(node_of_subject(name.get()), "") << i;
  }
  EXPECT_EQ(node_of_subject(nullptr), "");
}

}  // namespace
