// Unit tests for src/ca/profile.hpp: the key rules (RSA from 2048 to 8192 bits, EC on
// P-256 and P-384 only, nothing else) checked with keys made by plain OpenSSL; finding a
// profile; the keyUsage bit names of RFC 5280 4.2.1.3 and the extKeyUsage OIDs of 4.2.1.12;
// and the built-in profiles as docs/cli.md's table describes them.
#include "ca/profile.hpp"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <set>

#include "ca/request_policy.hpp"
#include "support/test_csr.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::check_key;
using hwca::ca::find_profile;
using hwca::ca::Profile;
using hwca::ca::SanType;
namespace test = hwca::test;

const Profile& server() { return hwca::ca::builtin_profiles().at("server"); }

void expect_key_refused(const Profile& p, const EVP_PKEY* key, const std::string& needle) {
  auto ok = check_key(p, key);
  ASSERT_FALSE(ok) << needle;
  EXPECT_EQ(ok.error().kind, ErrorKind::usage);
  EXPECT_NE(ok.error().message.find(needle), std::string::npos) << ok.error().message;
}

TEST(ProfileKeys, RsaNeedsAtLeast2048Bits) {
  auto small = test::rsa_key(1024);
  expect_key_refused(server(), small.get(),
                     "RSA key has 1024 bits; profile 'server' needs at "
                     "least 2048");
  auto just_below = test::rsa_public_of_size(2047);
  expect_key_refused(server(), just_below.get(), "2047 bits");
  auto ok = test::rsa_key(2048);
  EXPECT_TRUE(check_key(server(), ok.get()));
}

TEST(ProfileKeys, RsaAbove8192BitsIsRefusedWhateverTheProfile) {
  auto largest = test::rsa_public_of_size(8192);
  EXPECT_TRUE(check_key(server(), largest.get()));
  for (int bits : {8193, 16384}) {
    auto key = test::rsa_public_of_size(bits);
    ASSERT_EQ(EVP_PKEY_get_bits(key.get()), bits);
    expect_key_refused(server(), key.get(), "hwca accepts at most 8192");
  }
  Profile lenient = server();
  lenient.rsa_min_bits = 2048;
  auto huge = test::rsa_public_of_size(8200);
  expect_key_refused(lenient, huge.get(), "at most 8192");
}

TEST(ProfileKeys, EcOnP256AndP384Only) {
  auto p256 = test::ec_key("P-256");
  auto p384 = test::ec_key("P-384");
  EXPECT_TRUE(check_key(server(), p256.get()));
  EXPECT_TRUE(check_key(server(), p384.get()));
  auto p521 = test::ec_key("P-521");
  expect_key_refused(server(), p521.get(), "curve P-521; profile 'server' accepts P-256, P-384");
  auto k1 = test::ec_key("secp256k1");
  expect_key_refused(server(), k1.get(), "curve secp256k1");
  auto brainpool = test::ec_key("brainpoolP256r1");
  expect_key_refused(server(), brainpool.get(), "curve brainpoolP256r1");
  auto p224 = test::ec_key("P-224");
  expect_key_refused(server(), p224.get(), "curve ");
}

TEST(ProfileKeys, OtherKeyTypesAreNotSupported) {
  auto ed = test::ed25519_key();
  expect_key_refused(server(), ed.get(), "key type ED25519 is not supported");
  hwca::ossl::Ptr<EVP_PKEY> x448(EVP_PKEY_Q_keygen(nullptr, nullptr, "X448"));
  ASSERT_TRUE(x448);
  expect_key_refused(server(), x448.get(), "is not supported");
}

TEST(ProfileKeys, AProfileNarrowsTheKeysItTakes) {
  Profile ec_only = server();
  ec_only.name = "ec-only";
  ec_only.allow_rsa = false;
  ec_only.ec_curves = {"P-256"};
  auto rsa = test::rsa_key(2048);
  expect_key_refused(ec_only, rsa.get(), "profile 'ec-only' does not accept RSA keys");
  auto p384 = test::ec_key("P-384");
  expect_key_refused(ec_only, p384.get(), "curve P-384; profile 'ec-only' accepts P-256");
  auto p256 = test::ec_key("P-256");
  EXPECT_TRUE(check_key(ec_only, p256.get()));

  Profile rsa_only = server();
  rsa_only.name = "rsa-only";
  rsa_only.ec_curves.clear();
  rsa_only.rsa_min_bits = 3072;
  expect_key_refused(rsa_only, p256.get(), "accepts no EC keys");
  expect_key_refused(rsa_only, rsa.get(), "2048 bits; profile 'rsa-only' needs at least 3072");
  auto rsa3072 = test::rsa_public_of_size(3072);
  EXPECT_TRUE(check_key(rsa_only, rsa3072.get()));
}

TEST(ProfileLookup, BuiltInAndHomeProfilesAreFoundByExactName) {
  std::map<std::string, Profile> home;
  Profile web = server();
  web.name = "web";
  web.max_days = 90;
  home["web"] = web;
  for (const char* name : {"server", "client", "peer", "intermediate-ca", "kubelet-client",
                           "kubelet-serving", "kubelet-credential"}) {
    auto p = find_profile(home, name);
    ASSERT_TRUE(p) << name;
    EXPECT_EQ(p->name, name);
  }
  auto found = find_profile(home, "web");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->max_days, 90);
}

TEST(ProfileLookup, AnUnknownNameListsTheProfiles) {
  std::map<std::string, Profile> home;
  home["web"] = server();
  for (const char* name : {"nosuch", "Server", "server ", "", "intermediate"}) {
    auto p = find_profile(home, name);
    ASSERT_FALSE(p) << name;
    EXPECT_EQ(p.error().kind, ErrorKind::not_found);
    EXPECT_NE(p.error().message.find("no profile named '" + std::string(name) + "'"),
              std::string::npos)
        << p.error().message;
    for (const char* listed : {"client", "intermediate-ca", "kubelet-client", "kubelet-credential",
                               "kubelet-serving", "peer", "server", "web"}) {
      EXPECT_NE(p.error().message.find(listed), std::string::npos) << p.error().message;
    }
  }
  auto control = find_profile({}, "a\nb");
  ASSERT_FALSE(control);
  EXPECT_EQ(control.error().message.find('\n'), std::string::npos);
}

// RFC 5280 4.2.1.3: KeyUsage ::= BIT STRING { digitalSignature (0), nonRepudiation (1),
// keyEncipherment (2), dataEncipherment (3), keyAgreement (4), keyCertSign (5), cRLSign (6),
// encipherOnly (7), decipherOnly (8) }.
TEST(ProfileNames, KeyUsageBitsAreRfc5280s) {
  const std::pair<const char*, int> rfc[] = {
      {"digitalSignature", 0}, {"nonRepudiation", 1}, {"keyEncipherment", 2},
      {"dataEncipherment", 3}, {"keyAgreement", 4},   {"keyCertSign", 5},
      {"cRLSign", 6},          {"encipherOnly", 7},   {"decipherOnly", 8},
  };
  for (const auto& [name, bit] : rfc) {
    auto b = hwca::ca::key_usage_bit(name);
    ASSERT_TRUE(b) << name;
    EXPECT_EQ(*b, bit) << name;
    EXPECT_STREQ(hwca::ca::key_usage_name(bit), name);
  }
  for (const char* bad : {"digitalsignature", "DigitalSignature", "crlSign", "keyCertSign ", "",
                          "contentCommitment"}) {
    auto b = hwca::ca::key_usage_bit(bad);
    ASSERT_FALSE(b) << bad;
    EXPECT_EQ(b.error().kind, ErrorKind::usage);
  }
  EXPECT_STREQ(hwca::ca::key_usage_name(-1), "?");
  EXPECT_STREQ(hwca::ca::key_usage_name(9), "?");
}

// RFC 5280 4.2.1.12: id-kp-serverAuth 1.3.6.1.5.5.7.3.1, clientAuth .2, codeSigning .3,
// emailProtection .4, timeStamping .8, OCSPSigning .9.
TEST(ProfileNames, ExtendedKeyUsagesAreTheRfc5280Oids) {
  const std::pair<const char*, const char*> rfc[] = {
      {"serverAuth", "1.3.6.1.5.5.7.3.1"},   {"clientAuth", "1.3.6.1.5.5.7.3.2"},
      {"codeSigning", "1.3.6.1.5.5.7.3.3"},  {"emailProtection", "1.3.6.1.5.5.7.3.4"},
      {"timeStamping", "1.3.6.1.5.5.7.3.8"}, {"OCSPSigning", "1.3.6.1.5.5.7.3.9"},
  };
  for (const auto& [name, oid] : rfc) {
    auto nid = hwca::ca::ext_key_usage_nid(name);
    ASSERT_TRUE(nid) << name;
    char text[64];
    ASSERT_GT(OBJ_obj2txt(text, sizeof text, OBJ_nid2obj(*nid), 1), 0);
    EXPECT_STREQ(text, oid) << name;
    EXPECT_STREQ(hwca::ca::ext_key_usage_name(*nid), name);
  }
  for (const char* bad : {"serverauth", "anyExtendedKeyUsage", "1.3.6.1.5.5.7.3.1", ""}) {
    EXPECT_FALSE(hwca::ca::ext_key_usage_nid(bad)) << bad;
  }
  EXPECT_STREQ(hwca::ca::ext_key_usage_name(NID_anyExtendedKeyUsage), "?");
}

// docs/cli.md, "Profiles": the table of the built-in profiles.
TEST(ProfileBuiltins, MatchTheDocumentedTable) {
  const auto& all = hwca::ca::builtin_profiles();
  ASSERT_EQ(all.size(), 7u);
  const std::vector<int> leaf_subject = {
      NID_commonName,  NID_organizationName,    NID_organizationalUnitName,
      NID_countryName, NID_stateOrProvinceName, NID_localityName};
  const std::vector<int> node_subject = {NID_commonName, NID_organizationName};
  struct Row {
    const char* name;
    bool ca;
    std::vector<int> key_usage;
    std::vector<int> eku;
    std::set<SanType> sans;
    bool require_san;
    int max_sans;
    std::vector<int> subject;
    int default_days, max_days;
    int lifetime_seconds = 0;
  };
  const Row rows[] = {
      {"server",
       false,
       {0, 2},
       {NID_server_auth},
       {SanType::dns, SanType::ip},
       true,
       100,
       leaf_subject,
       365,
       397},
      {"client",
       false,
       {0, 2},
       {NID_client_auth},
       {SanType::dns, SanType::email, SanType::uri},
       false,
       100,
       leaf_subject,
       365,
       397},
      {"peer",
       false,
       {0, 2},
       {NID_server_auth, NID_client_auth},
       {SanType::dns, SanType::ip},
       true,
       100,
       leaf_subject,
       365,
       397},
      {"intermediate-ca", true, {0, 5, 6}, {}, {}, false, 0, leaf_subject, 1825, 3650},
      {"kubelet-client", false, {0, 2}, {NID_client_auth}, {}, false, 0, node_subject, 365, 397},
      {"kubelet-credential",
       false,
       {0, 2},
       {NID_client_auth},
       {},
       false,
       0,
       node_subject,
       365,
       397,
       3600},
      {"kubelet-serving",
       false,
       {0, 2},
       {NID_server_auth},
       {SanType::dns, SanType::ip},
       true,
       100,
       node_subject,
       30,
       397},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.name);
    const Profile& p = all.at(r.name);
    EXPECT_EQ(p.name, r.name);
    EXPECT_EQ(p.ca, r.ca);
    std::vector<int> ku = p.key_usage;
    std::sort(ku.begin(), ku.end());
    EXPECT_EQ(ku, r.key_usage);
    EXPECT_EQ(p.ext_key_usage, r.eku);
    EXPECT_EQ(p.san_types, r.sans);
    EXPECT_EQ(p.require_san, r.require_san);
    EXPECT_EQ(p.default_days, r.default_days);
    EXPECT_EQ(p.lifetime_seconds, r.lifetime_seconds);
    EXPECT_EQ(p.max_days, r.max_days);
    EXPECT_TRUE(p.require_common_name);
    std::vector<int> attrs = p.subject_attributes;
    std::sort(attrs.begin(), attrs.end());
    std::vector<int> want = r.subject;
    std::sort(want.begin(), want.end());
    EXPECT_EQ(attrs, want);
    EXPECT_EQ(p.max_sans, r.max_sans);
    EXPECT_FALSE(p.allow_wildcard);
    EXPECT_TRUE(p.allow_rsa);
    EXPECT_EQ(p.rsa_min_bits, 2048);
    EXPECT_EQ(p.ec_curves, (std::set<std::string>{"P-256", "P-384"}));
    if (r.ca) {
      ASSERT_TRUE(p.path_len);
      EXPECT_EQ(*p.path_len, 0);
    } else {
      EXPECT_FALSE(p.path_len);
    }
  }
}

// docs/cli.md: a home profile without base starts "from a leaf profile with no EKU and no
// SANs" (profile.hpp: digitalSignature, CN, O, OU, C, ST and L).
TEST(ProfileBuiltins, ThePlainProfileIsALeafWithNoEkuAndNoSans) {
  Profile p = hwca::ca::plain_profile();
  EXPECT_FALSE(p.ca);
  EXPECT_EQ(p.key_usage, std::vector<int>{0});
  EXPECT_TRUE(p.ext_key_usage.empty());
  EXPECT_TRUE(p.san_types.empty());
  EXPECT_EQ(p.max_sans, 0);
  EXPECT_FALSE(p.require_san);
  EXPECT_EQ(p.subject_attributes.size(), 6u);
}

// The kubelet profiles applied to requests: CN and O only, keyEncipherment only for RSA
// keys (the kubelet's own key is EC P-256), no SANs for the client, DNS/IP (at least one)
// for the serving certificate.
TEST(ProfileBuiltins, KubeletProfilesShapeWhatTheyIssue) {
  const Profile& client = hwca::ca::builtin_profiles().at("kubelet-client");
  const Profile& serving = hwca::ca::builtin_profiles().at("kubelet-serving");
  auto node = test::name_of({{"O", "system:nodes"}, {"CN", "system:node:worker-1"}});
  auto ec = test::ec_key("P-256");
  auto rsa = test::rsa_key(2048);

  auto ec_req = test::make_csr(ec.get(), node.get());
  auto a = hwca::ca::apply_profile(client, ec_req.get());
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->key_usage, std::vector<int>{0});
  EXPECT_TRUE(a->sans.empty());
  auto rsa_req = test::make_csr(rsa.get(), node.get());
  a = hwca::ca::apply_profile(client, rsa_req.get());
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->key_usage, (std::vector<int>{0, 2}));

  auto san = test::ext("subjectAltName", "DNS:worker-1,IP:10.0.0.5");
  auto with_san = test::make_csr(ec.get(), node.get(), {san.get()});
  auto refused = hwca::ca::apply_profile(client, with_san.get());
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("allows at most 0"), std::string::npos)
      << refused.error().message;
  a = hwca::ca::apply_profile(serving, with_san.get());
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->sans.size(), 2u);

  auto no_san = hwca::ca::apply_profile(serving, ec_req.get());
  ASSERT_FALSE(no_san);
  EXPECT_NE(no_san.error().message.find("needs at least one SAN"), std::string::npos);
  auto email = test::ext("subjectAltName", "email:a@b.example");
  auto email_req = test::make_csr(ec.get(), node.get(), {email.get()});
  auto no_email = hwca::ca::apply_profile(serving, email_req.get());
  ASSERT_FALSE(no_email);
  EXPECT_NE(no_email.error().message.find("allows no email SANs"), std::string::npos)
      << no_email.error().message;

  auto with_ou =
      test::name_of({{"O", "system:nodes"}, {"OU", "x"}, {"CN", "system:node:worker-1"}});
  auto ou_req = test::make_csr(ec.get(), with_ou.get());
  for (const Profile* p : {&client, &serving}) {
    auto ou = hwca::ca::apply_profile(*p, ou_req.get());
    ASSERT_FALSE(ou) << p->name;
    EXPECT_NE(ou.error().message.find("holds OU"), std::string::npos) << ou.error().message;
  }
}

}  // namespace
