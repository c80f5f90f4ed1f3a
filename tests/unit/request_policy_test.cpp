// Unit tests for src/ca/request_policy.hpp: what a profile lets through from a request made
// by plain OpenSSL. Subjects are rebuilt from allowed attributes only (one value per RDN,
// one CN, a CN when the profile needs one); SANs from allowed types only, at most maxSans,
// duplicates dropped; CA:TRUE under a leaf profile is refused; keyEncipherment (and
// dataEncipherment) only for RSA keys; every other requested extension is ignored.
#include "ca/request_policy.hpp"

#include <gtest/gtest.h>
#include <openssl/rsa.h>

#include "support/test_csr.hpp"

namespace {

using hwca::ErrorKind;
using hwca::ca::apply_profile;
using hwca::ca::Approved;
using hwca::ca::Profile;
using hwca::ca::San;
using hwca::ca::SanType;
namespace test = hwca::test;

const Profile& builtin(const char* name) { return hwca::ca::builtin_profiles().at(name); }

std::string one_line(const X509_NAME* name) {
  hwca::ossl::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len);
}

struct RequestPolicyTest : ::testing::Test {
  hwca::ossl::Ptr<EVP_PKEY> ec = test::ec_key("P-256");

  Approved approve(const Profile& p, X509_REQ* req) {
    auto a = apply_profile(p, req);
    EXPECT_TRUE(a) << a.error().message;
    if (!a) return {};
    return std::move(*a);
  }
  void expect_refused(const Profile& p, X509_REQ* req, const std::string& needle) {
    auto a = apply_profile(p, req);
    ASSERT_FALSE(a) << "accepted; expected '" << needle << "'";
    EXPECT_EQ(a.error().kind, ErrorKind::usage);
    EXPECT_NE(a.error().message.find(needle), std::string::npos) << a.error().message;
    EXPECT_EQ(a.error().message.find('\n'), std::string::npos);
  }
  hwca::ossl::Ptr<X509_REQ> with_subject(const std::vector<test::NameEntry>& entries,
                                         const std::string& sans = "DNS:a.example") {
    auto name = test::name_of(entries);
    if (sans.empty()) return test::make_csr(ec.get(), name.get());
    auto san = test::ext("subjectAltName", sans);
    return test::make_csr(ec.get(), name.get(), {san.get()});
  }
};

TEST_F(RequestPolicyTest, AllowedSubjectAttributesAreKeptInOrder) {
  auto req = with_subject({{"C", "DE"},
                           {"ST", "Berlin"},
                           {"L", "Berlin"},
                           {"O", "Example AG"},
                           {"OU", "Ops"},
                           {"CN", "a.example"}});
  Approved a = approve(builtin("server"), req.get());
  ASSERT_TRUE(a.subject);
  EXPECT_EQ(one_line(a.subject.get()), "CN=a.example,OU=Ops,O=Example AG,L=Berlin,ST=Berlin,C=DE");
  EXPECT_EQ(X509_NAME_cmp(a.subject.get(), X509_REQ_get_subject_name(req.get())), 0);
  EXPECT_EQ(EVP_PKEY_eq(a.key, ec.get()), 1);
}

TEST_F(RequestPolicyTest, AttributesTheProfileDoesNotAllowAreRefused) {
  const std::pair<const char*, const char*> refused[] = {
      {"emailAddress", "emailAddress"},
      {"serialNumber", "serialNumber"},
      {"DC", "DC"},
      {"UID", "UID"},
      {"title", "title"},
      {"2.5.4.97", "organizationIdentifier"},
  };
  for (const auto& [attribute, shown] : refused) {
    SCOPED_TRACE(attribute);
    auto req = with_subject({{"CN", "a.example"}, {attribute, "x"}});
    expect_refused(
        builtin("server"), req.get(),
        std::string("subject holds ") + shown + ", which profile 'server' does not allow");
  }
  auto req = with_subject({{"CN", "a.example"}, {"emailAddress", "a@b.example"}});
  expect_refused(builtin("client"), req.get(), "subject holds emailAddress");
  Profile own = builtin("client");
  own.name = "mail";
  own.subject_attributes.push_back(NID_pkcs9_emailAddress);
  EXPECT_TRUE(apply_profile(own, req.get()));
}

TEST_F(RequestPolicyTest, AMultiValuedRdnIsRefused) {
  auto req = with_subject({{"CN", "a.example"}, {"O", "Example", true}});
  ASSERT_EQ(X509_NAME_entry_count(X509_REQ_get_subject_name(req.get())), 2);
  expect_refused(builtin("server"), req.get(), "multi-valued RDN");
}

TEST_F(RequestPolicyTest, OneCnAtMostAndOneWhenTheProfileNeedsIt) {
  auto two = with_subject({{"CN", "a.example"}, {"CN", "b.example"}});
  expect_refused(builtin("server"), two.get(), "several CNs");
  auto none = with_subject({{"O", "Example"}});
  expect_refused(builtin("server"), none.get(), "profile 'server' needs a CN in the subject");
  Profile optional_cn = builtin("server");
  optional_cn.require_common_name = false;
  Approved a = approve(optional_cn, none.get());
  EXPECT_EQ(one_line(a.subject.get()), "O=Example");
}

TEST_F(RequestPolicyTest, EmptyTooLongOrControlValuesAreRefused) {
  // RFC 5280 Appendix A: ub-common-name 64.
  auto longest = with_subject({{"CN", std::string(64, 'a')}});
  EXPECT_TRUE(apply_profile(builtin("server"), longest.get()));
  auto too_long = with_subject({{"CN", std::string(65, 'a'), false, V_ASN1_UTF8STRING}});
  expect_refused(builtin("server"), too_long.get(), "does not fit that attribute");
  auto way_too_long = with_subject({{"CN", std::string(129, 'a'), false, V_ASN1_UTF8STRING}});
  expect_refused(builtin("server"), way_too_long.get(), "is empty, too long");
  auto empty = with_subject({{"CN", "", false, V_ASN1_UTF8STRING}});
  expect_refused(builtin("server"), empty.get(), "is empty, too long");
  auto control = with_subject({{"CN", "a\x1b[31m.example"}});
  expect_refused(builtin("server"), control.get(), "holds control characters");
  auto del = with_subject({{"O", "a\x7f"}, {"CN", "a.example"}});
  expect_refused(builtin("server"), del.get(), "holds control characters");
  auto utf8 = with_subject({{"CN", "m\xc3\xbcnchen.example"}, {"O", "B\xc3\xa4r AG"}});
  Approved a = approve(builtin("server"), utf8.get());
  EXPECT_EQ(X509_NAME_cmp(a.subject.get(), X509_REQ_get_subject_name(utf8.get())), 0);
}

TEST_F(RequestPolicyTest, SanTypesTheProfileDoesNotAllowAreRefused) {
  auto ip = with_subject({{"CN", "c"}}, "DNS:c.example,IP:10.0.0.1");
  expect_refused(builtin("client"), ip.get(),
                 "the request names IP:10.0.0.1, but profile 'client' allows no ip SANs "
                 "(allowed: dns, email, uri)");
  auto email = with_subject({{"CN", "s"}}, "DNS:s.example,email:a@b.example");
  expect_refused(builtin("server"), email.get(), "allows no email SANs (allowed: dns, ip)");
  auto uri = with_subject({{"CN", "p"}}, "URI:spiffe://td/p");
  expect_refused(builtin("peer"), uri.get(), "allows no uri SANs");
  auto any = with_subject({{"CN", "ca"}}, "DNS:ca.example");
  expect_refused(builtin("intermediate-ca"), any.get(), "allows at most 0");
}

TEST_F(RequestPolicyTest, SansOfAllowedTypesAreTakenInOrder) {
  auto req =
      with_subject({{"CN", "a"}}, "DNS:a.example,IP:10.0.0.1,IP:2001:db8:0:0::1,DNS:b.example");
  Approved a = approve(builtin("server"), req.get());
  const std::vector<San> want = {{SanType::dns, "a.example"},
                                 {SanType::ip, "10.0.0.1"},
                                 {SanType::ip, "2001:db8::1"},
                                 {SanType::dns, "b.example"}};
  EXPECT_EQ(a.sans, want);
  auto client = with_subject({{"CN", "c"}}, "email:c@b.example,URI:spiffe://td/c");
  Approved c = approve(builtin("client"), client.get());
  ASSERT_EQ(c.sans.size(), 2u);
  EXPECT_EQ(c.sans[0].text(), "email:c@b.example");
  EXPECT_EQ(c.sans[1].text(), "URI:spiffe://td/c");
}

TEST_F(RequestPolicyTest, MalformedSansAreRefused) {
  for (const char* bad :
       {"DNS:a b.example", "DNS:a_b.example", "DNS:*.a.example", "DNS:a..example", "email:a@b@c"}) {
    SCOPED_TRACE(bad);
    auto req = with_subject({{"CN", "a"}}, bad);
    expect_refused(builtin("client"), req.get(), "the request's SAN: ");
  }
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  sk_GENERAL_NAME_push(names, test::general_name(GEN_DNS, std::string("a.example\0.b", 12)));
  auto san = test::san_ext(names);
  auto subject = test::name_of({{"CN", "a"}});
  auto nul = test::make_csr(ec.get(), subject.get(), {san.get()});
  expect_refused(builtin("server"), nul.get(), "holds a NUL or non-ASCII byte");
  // A wildcard where the profile allows it.
  Profile wild = builtin("server");
  wild.allow_wildcard = true;
  auto star = with_subject({{"CN", "a"}}, "DNS:*.a.example");
  EXPECT_EQ(approve(wild, star.get()).sans.at(0).text(), "DNS:*.a.example");
}

TEST_F(RequestPolicyTest, AtMostMaxSansAreTaken) {
  Profile p = builtin("server");
  p.max_sans = 3;
  auto three = with_subject({{"CN", "a"}}, "DNS:a.example,DNS:b.example,DNS:c.example");
  EXPECT_EQ(approve(p, three.get()).sans.size(), 3u);
  auto four = with_subject({{"CN", "a"}}, "DNS:a.example,DNS:b.example,DNS:c.example,IP:1.2.3.4");
  expect_refused(p, four.get(), "the request has 4 SANs; profile 'server' allows at most 3");
  std::string many;
  for (int i = 0; i < 101; ++i) many += (i ? "," : "") + std::string("DNS:h") + std::to_string(i);
  auto absurd = with_subject({{"CN", "a"}}, many);
  expect_refused(builtin("server"), absurd.get(), "the request has 101 SANs");
}

TEST_F(RequestPolicyTest, DuplicateSansAreDropped) {
  auto req = with_subject({{"CN", "a"}},
                          "DNS:a.example,IP:10.0.0.1,DNS:a.example,IP:2001:db8::1,"
                          "IP:2001:DB8:0:0:0:0:0:1,IP:10.0.0.1,DNS:A.Example");
  Approved a = approve(builtin("server"), req.get());
  const std::vector<San> want = {
      {SanType::dns, "a.example"}, {SanType::ip, "10.0.0.1"}, {SanType::ip, "2001:db8::1"}};
  EXPECT_EQ(a.sans, want);
}

TEST_F(RequestPolicyTest, TwoSubjectAltNameExtensionsAreRefused) {
  auto a = test::ext("subjectAltName", "DNS:a.example");
  auto b = test::ext("subjectAltName", "DNS:b.example");
  auto subject = test::name_of({{"CN", "a"}});
  auto req = test::make_csr(ec.get(), subject.get(), {a.get(), b.get()});
  expect_refused(builtin("server"), req.get(), "two subjectAltName extensions");
}

TEST_F(RequestPolicyTest, RequiredSansAndAnEmptyRequest) {
  auto none = with_subject({{"CN", "a.example"}}, "");
  expect_refused(builtin("server"), none.get(),
                 "profile 'server' needs at least one SAN (dns, ip); the request has none");
  expect_refused(builtin("peer"), none.get(), "needs at least one SAN");
  EXPECT_TRUE(apply_profile(builtin("client"), none.get()));
  // Neither subject nor SAN: nothing to certify.
  Profile open = builtin("client");
  open.require_common_name = false;
  auto empty = with_subject({}, "");
  expect_refused(open, empty.get(), "the request has neither a subject nor a SAN");
  auto san_only = with_subject({}, "DNS:a.example");
  Approved a = approve(open, san_only.get());
  EXPECT_EQ(X509_NAME_entry_count(a.subject.get()), 0);
  EXPECT_EQ(a.sans.size(), 1u);
}

TEST_F(RequestPolicyTest, CaTrueUnderALeafProfileIsRefused) {
  auto bc = test::ext("basicConstraints", "critical,CA:TRUE");
  auto subject = test::name_of({{"CN", "a"}});
  auto san = test::ext("subjectAltName", "DNS:a.example");
  auto req = test::make_csr(ec.get(), subject.get(), {bc.get(), san.get()});
  for (const char* leaf : {"server", "client", "peer"}) {
    SCOPED_TRACE(leaf);
    expect_refused(
        builtin(leaf), req.get(),
        "the request asks for CA:TRUE, which profile '" + std::string(leaf) + "' does not grant");
  }
  auto leaf_bc = test::ext("basicConstraints", "critical,CA:FALSE");
  auto leaf_req = test::make_csr(ec.get(), subject.get(), {leaf_bc.get(), san.get()});
  EXPECT_TRUE(apply_profile(builtin("server"), leaf_req.get()));
  auto ca_req = test::make_csr(ec.get(), subject.get(), {bc.get()});
  EXPECT_TRUE(apply_profile(builtin("intermediate-ca"), ca_req.get()));
}

TEST_F(RequestPolicyTest, KeyEnciphermentOnlyForRsaKeys) {
  auto rsa = test::rsa_key(2048);
  auto rsa_req = test::simple_csr(rsa.get(), "a", "DNS:a.example");
  EXPECT_EQ(approve(builtin("server"), rsa_req.get()).key_usage, (std::vector<int>{0, 2}));
  auto ec_req = test::simple_csr(ec.get(), "a", "DNS:a.example");
  EXPECT_EQ(approve(builtin("server"), ec_req.get()).key_usage, std::vector<int>{0});
  auto p384 = test::ec_key("P-384");
  auto p384_req = test::simple_csr(p384.get(), "a", "DNS:a.example");
  EXPECT_EQ(approve(builtin("peer"), p384_req.get()).key_usage, std::vector<int>{0});
  Profile all = builtin("client");
  all.key_usage = {0, 1, 2, 3, 4};
  EXPECT_EQ(approve(all, ec_req.get()).key_usage, (std::vector<int>{0, 1, 4}));
  EXPECT_EQ(approve(all, rsa_req.get()).key_usage, (std::vector<int>{0, 1, 2, 3, 4}));
  // A CA's usages are kept whatever the key.
  auto ca_req = test::simple_csr(ec.get(), "sub");
  EXPECT_EQ(approve(builtin("intermediate-ca"), ca_req.get()).key_usage,
            (std::vector<int>{0, 5, 6}));
}

TEST_F(RequestPolicyTest, OtherRequestedExtensionsChangeNothing) {
  auto subject = test::name_of({{"CN", "a"}});
  auto ku = test::ext("keyUsage", "critical,keyCertSign,cRLSign,digitalSignature");
  auto eku = test::ext("extendedKeyUsage", "serverAuth,codeSigning");
  auto custom = test::ext("1.3.6.1.4.1.55555.1", "ASN1:UTF8String:please copy me");
  auto san = test::ext("subjectAltName", "DNS:a.example");
  auto req =
      test::make_csr(ec.get(), subject.get(), {ku.get(), eku.get(), custom.get(), san.get()});
  Approved a = approve(builtin("server"), req.get());
  EXPECT_EQ(a.key_usage, std::vector<int>{0});
  EXPECT_EQ(a.sans.size(), 1u);
}

TEST_F(RequestPolicyTest, TheKeyIsCheckedFirst) {
  auto weak = test::rsa_key(1024);
  auto req = test::simple_csr(weak.get(), "a", "DNS:a.example");
  expect_refused(builtin("server"), req.get(), "RSA key has 1024 bits");
  auto p521 = test::ec_key("P-521");
  auto req521 = test::simple_csr(p521.get(), "a", "DNS:a.example");
  expect_refused(builtin("server"), req521.get(), "curve P-521");
}

// The request as a client sends it: encoded, then parsed back, as hwca reads it.
hwca::ossl::Ptr<X509_REQ> reparsed(const X509_REQ* req) {
  const std::string der = test::csr_der(req);
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  hwca::ossl::Ptr<X509_REQ> out(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  if (!out) throw std::runtime_error("cannot parse the CSR back");
  return out;
}

// A request signed with RSA-PSS: `digest` for the hash (and MGF1), default salt.
hwca::ossl::Ptr<X509_REQ> pss_csr(EVP_PKEY* key, const char* digest) {
  auto subject = test::name_of({{"CN", "a"}});
  auto san = test::ext("subjectAltName", "DNS:a.example");
  hwca::ossl::Ptr<X509_REQ> req(X509_REQ_new());
  X509_REQ_set_version(req.get(), X509_REQ_VERSION_1);
  X509_REQ_set_subject_name(req.get(), subject.get());
  X509_REQ_set_pubkey(req.get(), key);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  sk_X509_EXTENSION_push(exts, san.get());
  X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_free(exts);
  hwca::ossl::Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestSignInit_ex(ctx.get(), &pctx, digest, nullptr, nullptr, key, nullptr) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      X509_REQ_sign_ctx(req.get(), ctx.get()) <= 0) {
    throw std::runtime_error("cannot sign the CSR with RSA-PSS");
  }
  return reparsed(req.get());
}

// An RSA key of 2048 bits with public exponent `e`.
hwca::ossl::Ptr<EVP_PKEY> rsa_key_with_exponent(unsigned long e) {
  hwca::ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  hwca::ossl::Ptr<BIGNUM> bn(BN_new());
  EVP_PKEY* key = nullptr;
  if (!ctx || !bn || BN_set_word(bn.get(), e) != 1 || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048) != 1 ||
      EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), bn.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &key) != 1) {
    throw std::runtime_error("cannot make an RSA key with exponent " + std::to_string(e));
  }
  return hwca::ossl::Ptr<EVP_PKEY>(key);
}

// RFC 5480 allows only a named curve in a certificate, and Go's crypto/x509 refuses any
// other: a key whose SubjectPublicKeyInfo spells out P-256's parameters is refused, under
// every profile; the same key as a named curve is taken.
TEST_F(RequestPolicyTest, ExplicitCurveParametersAreRefused) {
  auto key = test::ec_key("P-256");
  auto named = reparsed(test::simple_csr(key.get(), "a", "DNS:a.example").get());
  EXPECT_TRUE(apply_profile(builtin("server"), named.get()));
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(key.get(), OSSL_PKEY_PARAM_EC_ENCODING,
                                           OSSL_PKEY_EC_ENCODING_EXPLICIT),
            1);
  auto explicit_req = reparsed(test::simple_csr(key.get(), "a", "DNS:a.example").get());
  // The request does carry the parameters (not the curve's name).
  X509_ALGOR* algor = nullptr;
  ASSERT_EQ(X509_PUBKEY_get0_param(nullptr, nullptr, nullptr, &algor,
                                   X509_REQ_get_X509_PUBKEY(explicit_req.get())),
            1);
  int ptype = 0;
  X509_ALGOR_get0(nullptr, &ptype, nullptr, algor);
  ASSERT_EQ(ptype, V_ASN1_SEQUENCE);
  for (const char* profile : {"server", "client", "peer", "kubelet-client", "intermediate-ca"}) {
    SCOPED_TRACE(profile);
    expect_refused(builtin(profile), explicit_req.get(), "explicit curve parameters");
  }
}

// ecdsa-with-SHA1, sha1WithRSAEncryption, MD5 and SHA-224 are refused; SHA-256, SHA-384 and
// SHA-512 are taken, for EC and RSA keys alike.
TEST_F(RequestPolicyTest, Sha1AndWeakerSignaturesAreRefused) {
  auto rsa = test::rsa_key(2048);
  auto subject = test::name_of({{"CN", "a"}});
  auto san = test::ext("subjectAltName", "DNS:a.example");
  for (EVP_PKEY* key : {ec.get(), rsa.get()}) {
    const bool is_rsa = EVP_PKEY_is_a(key, "RSA") == 1;
    SCOPED_TRACE(is_rsa ? "RSA" : "EC");
    for (const char* digest : {"SHA1", "SHA224", "MD5"}) {
      SCOPED_TRACE(digest);
      if (!is_rsa && std::string(digest) == "MD5") continue;  // no ECDSA with MD5
      auto req = reparsed(test::make_csr(key, subject.get(), {san.get()}, digest).get());
      expect_refused(builtin("server"), req.get(), "SHA-256, SHA-384 or SHA-512 only");
    }
    auto sha1 = reparsed(test::make_csr(key, subject.get(), {san.get()}, "SHA1").get());
    expect_refused(builtin("server"), sha1.get(),
                   is_rsa ? "sha1WithRSAEncryption (digest SHA1)" : "ecdsa-with-SHA1");
    for (const char* digest : {"SHA256", "SHA384", "SHA512"}) {
      SCOPED_TRACE(digest);
      auto req = reparsed(test::make_csr(key, subject.get(), {san.get()}, digest).get());
      EXPECT_TRUE(apply_profile(builtin("server"), req.get()));
    }
  }
}

// RSA-PSS names its hash in its parameters (absent: SHA-1): judged by that hash.
TEST_F(RequestPolicyTest, RsaPssSignaturesAreJudgedByTheirDigest) {
  auto rsa = test::rsa_key(2048);
  auto sha256 = pss_csr(rsa.get(), "SHA256");
  ASSERT_EQ(X509_REQ_get_signature_nid(sha256.get()), NID_rsassaPss);
  EXPECT_TRUE(apply_profile(builtin("server"), sha256.get()));
  auto sha512 = pss_csr(rsa.get(), "SHA512");
  EXPECT_TRUE(apply_profile(builtin("server"), sha512.get()));
  auto sha1 = pss_csr(rsa.get(), "SHA1");
  ASSERT_EQ(X509_REQ_get_signature_nid(sha1.get()), NID_rsassaPss);
  expect_refused(builtin("server"), sha1.get(), "rsassaPss (digest SHA1)");
}

// Go's crypto/x509 takes RSA keys with e = 65537 only (and rejects e = 3 outright).
TEST_F(RequestPolicyTest, RsaExponentsOtherThan65537AreRefused) {
  for (unsigned long e : {3UL, 17UL, 65539UL}) {
    SCOPED_TRACE(e);
    auto key = rsa_key_with_exponent(e);
    auto req = reparsed(test::simple_csr(key.get(), "a", "DNS:a.example").get());
    expect_refused(builtin("server"), req.get(),
                   "public exponent " + std::to_string(e) + "; hwca accepts 65537 only");
  }
  auto f4 = rsa_key_with_exponent(RSA_F4);
  auto req = reparsed(test::simple_csr(f4.get(), "a", "DNS:a.example").get());
  EXPECT_TRUE(apply_profile(builtin("server"), req.get()));
}

// A key has one SubjectPublicKeyInfo (so that a compromised key is known again by its
// SHA-256): a compressed EC point, which Go's crypto/x509 cannot read either, is refused; so
// is an RSA key whose algorithm lacks its NULL parameters.
TEST_F(RequestPolicyTest, OnlyOneEncodingOfAKeyIsTaken) {
  auto key = test::ec_key("P-256");
  ASSERT_EQ(EVP_PKEY_set_utf8_string_param(key.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED),
            1);
  auto compressed = reparsed(test::simple_csr(key.get(), "a", "DNS:a.example").get());
  const unsigned char* point = nullptr;
  int len = 0;
  ASSERT_EQ(X509_PUBKEY_get0_param(nullptr, &point, &len, nullptr,
                                   X509_REQ_get_X509_PUBKEY(compressed.get())),
            1);
  ASSERT_EQ(len, 33);  // 0x02 or 0x03, then x
  expect_refused(builtin("server"), compressed.get(), "EC point is not in uncompressed form");

  // The same RSA request with its algorithm's parameters left out, signed again.
  auto rsa = test::rsa_key(2048);
  auto subject = test::name_of({{"CN", "a"}});
  auto san = test::ext("subjectAltName", "DNS:a.example");
  auto req = test::make_csr(rsa.get(), subject.get(), {san.get()});
  EXPECT_TRUE(apply_profile(builtin("server"), reparsed(req.get()).get()));
  X509_PUBKEY* spki = X509_REQ_get_X509_PUBKEY(req.get());
  const unsigned char* bits = nullptr;
  int bits_len = 0;
  ASSERT_EQ(X509_PUBKEY_get0_param(nullptr, &bits, &bits_len, nullptr, spki), 1);
  auto* copy = static_cast<unsigned char*>(OPENSSL_memdup(bits, static_cast<size_t>(bits_len)));
  ASSERT_EQ(X509_PUBKEY_set0_param(spki, OBJ_nid2obj(NID_rsaEncryption), V_ASN1_UNDEF, nullptr,
                                   copy, bits_len),
            1);
  ASSERT_GT(X509_REQ_sign(req.get(), rsa.get(), EVP_sha256()), 0);
  auto absent = reparsed(req.get());
  expect_refused(builtin("server"), absent.get(), "RSA key lacks its NULL parameters");
}

}  // namespace
