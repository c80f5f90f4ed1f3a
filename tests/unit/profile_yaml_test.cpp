// Unit tests for src/ca/profile_yaml.hpp through parse_config (home.hpp), as a home's
// config.yaml is read: `base`, every field, unknown fields and bad values refused with one
// line naming the file, profile and field, no shadowing of a built-in profile, the rules for
// CA profiles, and a round trip through emit_config that keeps the profiles.
#include "ca/profile_yaml.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "ca/home.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::Config;
using hwca::ca::parse_config;
using hwca::ca::Profile;
using hwca::ca::SanType;

// config.yaml with these lines under `profiles:` (each already indented by two spaces).
std::string config_with(const std::string& profiles) { return "profiles:\n" + profiles; }

Profile parsed(const std::string& profiles, const std::string& name) {
  auto c = parse_config(config_with(profiles), "config.yaml");
  EXPECT_TRUE(c) << profiles << "\n" << c.error().message;
  if (!c) return {};
  EXPECT_EQ(c->profiles.count(name), 1u) << profiles;
  return c->profiles.count(name) != 0 ? c->profiles.at(name) : Profile{};
}

void expect_refused(const std::string& profiles, const std::string& needle) {
  auto c = parse_config(config_with(profiles), "config.yaml");
  ASSERT_FALSE(c) << "accepted:\n" << profiles;
  EXPECT_EQ(c.error().kind, ErrorKind::usage);
  EXPECT_NE(c.error().message.find(needle), std::string::npos) << profiles << "\n"
                                                               << c.error().message;
  EXPECT_EQ(c.error().message.find("config.yaml"), 0u) << c.error().message;
  EXPECT_EQ(c.error().message.find('\n'), std::string::npos) << c.error().message;
}

std::vector<int> sorted(std::vector<int> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Every field of two profiles, for the round trip.
void expect_same(const Profile& a, const Profile& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.ca, b.ca);
  EXPECT_EQ(a.path_len, b.path_len);
  EXPECT_EQ(a.key_usage, b.key_usage);
  EXPECT_EQ(a.ext_key_usage, b.ext_key_usage);
  EXPECT_EQ(a.san_types, b.san_types);
  EXPECT_EQ(a.require_san, b.require_san);
  EXPECT_EQ(a.allow_wildcard, b.allow_wildcard);
  EXPECT_EQ(a.max_sans, b.max_sans);
  EXPECT_EQ(a.subject_attributes, b.subject_attributes);
  EXPECT_EQ(a.require_common_name, b.require_common_name);
  EXPECT_EQ(a.default_days, b.default_days);
  EXPECT_EQ(a.max_days, b.max_days);
  EXPECT_EQ(a.allow_rsa, b.allow_rsa);
  EXPECT_EQ(a.rsa_min_bits, b.rsa_min_bits);
  EXPECT_EQ(a.ec_curves, b.ec_curves);
}

TEST(ProfileYaml, NoProfilesIsAnEmptyMap) {
  auto c = parse_config("cas: {}\n", "config.yaml");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->profiles.empty());
  auto null = parse_config("profiles:\n", "config.yaml");
  ASSERT_TRUE(null) << null.error().message;
  EXPECT_TRUE(null->profiles.empty());
}

TEST(ProfileYaml, BaseStartsFromABuiltInProfile) {
  Profile p = parsed("  web:\n    base: server\n", "web");
  Profile want = hwca::ca::builtin_profiles().at("server");
  want.name = "web";
  expect_same(p, want);
  Profile ica = parsed("  sub:\n    base: intermediate-ca\n", "sub");
  EXPECT_TRUE(ica.ca);
  EXPECT_EQ(ica.path_len, 0);
  EXPECT_EQ(sorted(ica.key_usage), (std::vector<int>{0, 5, 6}));
}

TEST(ProfileYaml, WithoutBaseAProfileStartsFromThePlainLeaf) {
  Profile p = parsed("  plain:\n    description: x\n", "plain");
  Profile want = hwca::ca::plain_profile();
  want.name = "plain";
  want.description = "x";
  expect_same(p, want);
}

TEST(ProfileYaml, EveryFieldIsRead) {
  Profile p = parsed(R"(  web:
    base: client
    description: public web servers
    keyUsage: [digitalSignature, keyAgreement]
    extKeyUsage: [serverAuth, codeSigning]
    sans: [dns, uri]
    requireSan: true
    allowWildcard: true
    maxSans: 20
    subject: {attributes: [CN, O, emailAddress], requireCommonName: false}
    days: 30
    maxDays: 90
    keys: {rsa: false, ecCurves: [P-384]}
)",
                     "web");
  EXPECT_EQ(p.name, "web");
  EXPECT_EQ(p.description, "public web servers");
  EXPECT_FALSE(p.ca);
  EXPECT_FALSE(p.path_len);
  EXPECT_EQ(p.key_usage, (std::vector<int>{0, 4}));
  EXPECT_EQ(p.ext_key_usage, (std::vector<int>{NID_server_auth, NID_code_sign}));
  EXPECT_EQ(p.san_types, (std::set<SanType>{SanType::dns, SanType::uri}));
  EXPECT_TRUE(p.require_san);
  EXPECT_TRUE(p.allow_wildcard);
  EXPECT_EQ(p.max_sans, 20);
  EXPECT_EQ(p.subject_attributes,
            (std::vector<int>{NID_commonName, NID_organizationName, NID_pkcs9_emailAddress}));
  EXPECT_FALSE(p.require_common_name);
  EXPECT_EQ(p.default_days, 30);
  EXPECT_EQ(p.max_days, 90);
  EXPECT_FALSE(p.allow_rsa);
  EXPECT_EQ(p.ec_curves, std::set<std::string>{"P-384"});

  Profile rsa = parsed("  big:\n    base: server\n    keys: {rsaMinBits: 4096}\n", "big");
  EXPECT_TRUE(rsa.allow_rsa);
  EXPECT_EQ(rsa.rsa_min_bits, 4096);
  EXPECT_EQ(rsa.ec_curves, (std::set<std::string>{"P-256", "P-384"}));  // kept from the base

  Profile ca = parsed(R"(  sub:
    base: intermediate-ca
    pathLen: 2
    days: 100
)",
                      "sub");
  EXPECT_TRUE(ca.ca);
  EXPECT_EQ(ca.path_len, 2);
  EXPECT_EQ(ca.default_days, 100);
  Profile own_ca = parsed(R"(  own:
    ca: true
    keyUsage: [keyCertSign, cRLSign]
)",
                          "own");
  EXPECT_TRUE(own_ca.ca);
  EXPECT_FALSE(own_ca.path_len);  // no limit unless written
}

TEST(ProfileYaml, LimitsAreInclusive) {
  EXPECT_EQ(parsed("  a:\n    maxSans: 0\n", "a").max_sans, 0);
  EXPECT_EQ(parsed("  a:\n    maxSans: 1000\n", "a").max_sans, 1000);
  EXPECT_EQ(parsed("  a:\n    days: 1\n", "a").default_days, 1);
  EXPECT_EQ(parsed("  a:\n    days: 36500\n    maxDays: 36500\n", "a").max_days, 36500);
  EXPECT_EQ(parsed("  a:\n    keys: {rsaMinBits: 2048}\n", "a").rsa_min_bits, 2048);
  EXPECT_EQ(parsed("  a:\n    keys: {rsaMinBits: 8192}\n", "a").rsa_min_bits, 8192);
}

TEST(ProfileYaml, UnknownFieldsAreRefused) {
  expect_refused("  web:\n    base: server\n    keyUsages: [digitalSignature]\n",
                 "profile 'web': unknown field 'keyUsages'");
  expect_refused("  web:\n    subject: {attributes: [CN], requireCN: true}\n",
                 "unknown field 'requireCN'");
  expect_refused("  web:\n    keys: {ec: true}\n", "unknown field 'ec'");
  expect_refused("  web:\n    Days: 3\n", "unknown field 'Days'");
}

TEST(ProfileYaml, BadValuesAreRefused) {
  const std::pair<const char*, const char*> cases[] = {
      {"keyUsage: [digitalSignature, signing]", "unknown keyUsage 'signing'"},
      {"keyUsage: digitalSignature", "keyUsage must be a list"},
      {"keyUsage: [[digitalSignature]]", "keyUsage must hold strings"},
      {"extKeyUsage: [anyExtendedKeyUsage]", "unknown extKeyUsage 'anyExtendedKeyUsage'"},
      {"sans: [dns, rid]", "unknown SAN type 'rid'"},
      {"sans: dns", "sans must be a list"},
      {"requireSan: maybe", "requireSan must be true or false"},
      {"allowWildcard: [true]", "allowWildcard must be true or false"},
      {"ca: 1.5", "ca must be true or false"},
      {"maxSans: 1001", "maxSans must be a whole number from 0 to 1000"},
      {"maxSans: -1", "maxSans must be a whole number from 0 to 1000"},
      {"maxSans: ten", "maxSans must be a whole number"},
      {"maxSans: 2.5", "maxSans must be a whole number"},
      {"days: 0", "days must be a whole number from 1 to 36500"},
      {"maxDays: 36501", "maxDays must be a whole number from 1 to 36500"},
      {"pathLen: -1", "pathLen must be a whole number from 0 to 16"},
      {"pathLen: 17", "pathLen must be a whole number from 0 to 16"},
      {"description: [a, b]", "description must be a string"},
      {"subject: [CN]", "subject must be a mapping"},
      {"subject: {attributes: [CN, XYZ]}", "unknown attribute 'XYZ'"},
      {"subject: {requireCommonName: yes-please}", "requireCommonName must be true or false"},
      {"keys: [rsa]", "keys must be a mapping"},
      {"keys: {rsa: no-thanks}", "rsa must be true or false"},
      {"keys: {rsaMinBits: 1024}", "rsaMinBits must be a whole number from 2048 to 8192"},
      {"keys: {rsaMinBits: 8193}", "rsaMinBits must be a whole number from 2048 to 8192"},
      {"keys: {ecCurves: [P-256, P-521]}", "curve 'P-521' is not supported (P-256 or P-384)"},
      {"keys: {ecCurves: [secp256k1]}", "curve 'secp256k1' is not supported"},
  };
  for (const auto& [line, needle] : cases) {
    SCOPED_TRACE(line);
    expect_refused(std::string("  web:\n    base: server\n    ") + line + "\n", needle);
  }
}

TEST(ProfileYaml, NamesFollowTheCaNameRule) {
  for (const char* name : {"Web", "a_b", "-web", "\"a b\"", "\"\""}) {
    SCOPED_TRACE(name);
    expect_refused(std::string("  ") + name + ":\n    base: server\n",
                   "a profile name is 1-64 of a-z, 0-9 and '-'");
  }
  expect_refused("  " + std::string(65, 'a') + ":\n    base: server\n", "a profile name");
  EXPECT_EQ(parsed("  " + std::string(64, 'a') + ":\n    base: server\n", std::string(64, 'a'))
                .name.size(),
            64u);
}

TEST(ProfileYaml, ABuiltInProfileCannotBeShadowed) {
  for (const char* name : {"server", "client", "peer", "intermediate-ca", "kubelet-client",
                           "kubelet-serving", "kubelet-credential"}) {
    SCOPED_TRACE(name);
    expect_refused(std::string("  ") + name + ":\n    maxDays: 30\n",
                   "profile '" + std::string(name) + "' is built in; choose another name");
  }
}

TEST(ProfileYaml, TheShapeIsChecked) {
  expect_refused("  - web\n", "profiles must be a mapping");
  expect_refused("  web: server\n", "profile 'web' must be a mapping");
  expect_refused("  web:\n    base: nosuch\n", "base must name a built-in profile");
  expect_refused("  web:\n    base: [server]\n", "base must name a built-in profile");
  expect_refused("  other:\n    base: server\n  web:\n    base: other\n",
                 "base must name a built-in profile");
}

TEST(ProfileYaml, CaRulesAreEnforced) {
  expect_refused("  a:\n    ca: true\n", "a CA profile needs keyCertSign");
  expect_refused("  a:\n    base: server\n    keyUsage: [digitalSignature, keyCertSign]\n",
                 "keyCertSign needs ca: true");
  expect_refused("  a:\n    base: intermediate-ca\n    ca: false\n", "keyCertSign needs ca: true");
  expect_refused("  a:\n    base: server\n    days: 398\n", "days is more than maxDays");
  expect_refused("  a:\n    maxDays: 10\n", "days is more than maxDays");  // plain: 365 days
  expect_refused("  a:\n    requireSan: true\n", "requireSan needs sans and maxSans > 0");
  expect_refused("  a:\n    base: server\n    maxSans: 0\n", "requireSan needs sans and maxSans");
  expect_refused("  a:\n    subject: {attributes: [O]}\n", "requireCommonName needs CN");
  expect_refused("  a:\n    keys: {rsa: false, ecCurves: []}\n", "accepts no key at all");
}

// A path length on a profile that is not a CA's is a mistake to point out, as the CA rules
// say (check_profile: "pathLen needs ca: true"), not something to drop without a word.
TEST(ProfileYaml, APathLengthWithoutCaIsRefused) {
  expect_refused("  a:\n    base: server\n    pathLen: 1\n", "pathLen needs ca: true");
  expect_refused("  a:\n    pathLen: 0\n    ca: false\n", "pathLen needs ca: true");
  // A base CA profile turned into a leaf loses the base's path length without complaint.
  Profile leaf = parsed(
      "  a:\n    base: intermediate-ca\n    ca: false\n    keyUsage: "
      "[digitalSignature]\n",
      "a");
  EXPECT_FALSE(leaf.ca);
  EXPECT_FALSE(leaf.path_len);
}

TEST(ProfileYaml, EmitConfigKeepsTheProfiles) {
  const std::string text = R"(cas:
  root:
    key: "pkcs11:token=ca;object=root"
    cert: cas/root/cert.pem
profiles:
  web:
    base: server
    description: "public: web servers"
    extKeyUsage: [serverAuth, clientAuth]
    sans: [dns]
    allowWildcard: true
    maxSans: 20
    subject: {attributes: [CN, O], requireCommonName: true}
    days: 90
    maxDays: 90
    keys: {rsa: true, rsaMinBits: 3072, ecCurves: [P-256]}
  sub-ca:
    base: intermediate-ca
    pathLen: 1
  plain: {}
)";
  auto c = parse_config(text, "config.yaml");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->profiles.size(), 3u);
  std::string emitted = hwca::ca::emit_config(*c);
  auto again = parse_config(emitted, "emitted");
  ASSERT_TRUE(again) << again.error().message << "\n" << emitted;
  ASSERT_EQ(again->profiles.size(), 3u) << emitted;
  for (const auto& [name, p] : c->profiles) {
    SCOPED_TRACE(name);
    ASSERT_EQ(again->profiles.count(name), 1u);
    expect_same(again->profiles.at(name), p);
  }
  EXPECT_EQ(c->profiles.at("web").description, "public: web servers");
  EXPECT_EQ(c->profiles.at("sub-ca").path_len, 1);
  // And once more: emitting is stable.
  EXPECT_EQ(hwca::ca::emit_config(*again), emitted);
  // The CAs survive next to them.
  EXPECT_EQ(again->cas.at("root").cert, "cas/root/cert.pem");
}

TEST(ProfileYaml, AConfigWithoutProfilesEmitsNone) {
  auto c = parse_config("cas: {}\n", "config.yaml");
  ASSERT_TRUE(c);
  std::string emitted = hwca::ca::emit_config(*c);
  EXPECT_EQ(emitted.find("profiles"), std::string::npos) << emitted;
}

}  // namespace
