// Unit tests for providers/algorithm_id.hpp: each AlgorithmIdentifier is compared with the
// one OpenSSL's default provider reports (OSSL_SIGNATURE_PARAM_ALGORITHM_ID) for the same
// signature settings on a software key.
#include "providers/algorithm_id.hpp"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "common/ossl.hpp"

namespace {

using Bytes = std::vector<unsigned char>;

struct PssFree {
  void operator()(RSA_PSS_PARAMS* p) const { RSA_PSS_PARAMS_free(p); }
};
using Pkey = hwca::ossl::Ptr<EVP_PKEY>;
using Algor = hwca::ossl::Ptr<X509_ALGOR>;

EVP_PKEY* ec_key() {
  static Pkey key(EVP_PKEY_Q_keygen(nullptr, "provider=default", "EC", "P-256"));
  return key.get();
}

EVP_PKEY* rsa_key() {
  static Pkey key(EVP_PKEY_Q_keygen(nullptr, "provider=default", "RSA", static_cast<size_t>(2048)));
  return key.get();
}

struct PssSettings {
  int salt;
  const char* mgf1;
};

// The AlgorithmIdentifier OpenSSL's default provider reports for a signature.
Bytes openssl_algorithm_id(EVP_PKEY* key, const char* digest, const PssSettings* pss = nullptr) {
  hwca::ossl::Ptr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (!md || EVP_DigestSignInit_ex(md.get(), &pctx, digest, nullptr, "provider=default", key,
                                   nullptr) != 1) {
    ADD_FAILURE() << "EVP_DigestSignInit_ex " << digest;
    return {};
  }
  if (pss != nullptr && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss->salt) != 1 ||
                         EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, pss->mgf1, nullptr) != 1)) {
    ADD_FAILURE() << "PSS settings " << digest;
    return {};
  }
  unsigned char buf[256];
  OSSL_PARAM params[] = {
      OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, buf, sizeof buf), OSSL_PARAM_END};
  if (EVP_PKEY_CTX_get_params(pctx, params) != 1 || params[0].return_size == 0) {
    ADD_FAILURE() << "no AlgorithmIdentifier from OpenSSL for " << digest;
    return {};
  }
  return Bytes(buf, buf + params[0].return_size);
}

Algor decode(const Bytes& der) {
  const unsigned char* p = der.data();
  Algor alg(d2i_X509_ALGOR(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_TRUE(alg) << "not an AlgorithmIdentifier";
  if (alg) {
    EXPECT_EQ(p, der.data() + der.size()) << "trailing bytes";
  }
  return alg;
}

int oid_nid(const X509_ALGOR* a) {
  const ASN1_OBJECT* obj = nullptr;
  X509_ALGOR_get0(&obj, nullptr, nullptr, a);
  return OBJ_obj2nid(obj);
}

// A hash AlgorithmIdentifier inside PSS params: RFC 4055 2.1 / RFC 8017 B.1 allow the
// parameters to be absent or NULL, and nothing else.
void expect_hash_params_absent_or_null(const X509_ALGOR* a, const char* what) {
  int ptype = V_ASN1_UNDEF;
  X509_ALGOR_get0(nullptr, &ptype, nullptr, a);
  EXPECT_TRUE(ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL) << what << " ptype " << ptype;
}

// The meaningful fields of an RSASSA-PSS AlgorithmIdentifier (RFC 4055 3.1).
struct PssFields {
  int alg = NID_undef, hash = NID_undef, mgf = NID_undef, mgf_hash = NID_undef;
  long salt = -1, trailer = -1;
  bool salt_present = false;
};

PssFields pss_fields(const Bytes& der) {
  PssFields f;
  Algor alg = decode(der);
  if (!alg) return f;
  f.alg = oid_nid(alg.get());
  int ptype = V_ASN1_UNDEF;
  const void* pval = nullptr;
  X509_ALGOR_get0(nullptr, &ptype, &pval, alg.get());
  EXPECT_EQ(ptype, V_ASN1_SEQUENCE);
  if (ptype != V_ASN1_SEQUENCE) return f;
  ASN1_TYPE* t = ASN1_TYPE_new();
  ASN1_TYPE_set1(t, ptype, pval);
  std::unique_ptr<RSA_PSS_PARAMS, PssFree> pss(
      static_cast<RSA_PSS_PARAMS*>(ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_PSS_PARAMS), t)));
  ASN1_TYPE_free(t);
  EXPECT_TRUE(pss) << "bad RSASSA-PSS-params";
  if (!pss) return f;
  // Absent fields take the DEFAULTs of RFC 4055 3.1: sha1, mgf1SHA1, 20, 1.
  f.hash = pss->hashAlgorithm ? oid_nid(pss->hashAlgorithm) : NID_sha1;
  if (pss->hashAlgorithm) expect_hash_params_absent_or_null(pss->hashAlgorithm, "hashAlgorithm");
  f.mgf = pss->maskGenAlgorithm ? oid_nid(pss->maskGenAlgorithm) : NID_mgf1;
  f.mgf_hash = NID_sha1;
  if (pss->maskGenAlgorithm) {
    hwca::ossl::Ptr<X509_ALGOR> mgf_hash(static_cast<X509_ALGOR*>(
        ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR), pss->maskGenAlgorithm->parameter)));
    EXPECT_TRUE(mgf_hash) << "bad MGF1 parameters";
    if (mgf_hash) {
      f.mgf_hash = oid_nid(mgf_hash.get());
      expect_hash_params_absent_or_null(mgf_hash.get(), "MGF1 hash");
    }
  }
  f.salt_present = pss->saltLength != nullptr;
  f.salt = pss->saltLength ? ASN1_INTEGER_get(pss->saltLength) : 20;
  f.trailer = pss->trailerField ? ASN1_INTEGER_get(pss->trailerField) : 1;
  return f;
}

TEST(EcdsaAlgorithmId, SameBytesAsOpenSsl) {
  ASSERT_NE(ec_key(), nullptr);
  for (const char* digest : {"SHA256", "SHA384", "SHA512"}) {
    auto ours = hwca::provider::ecdsa_algorithm_id(digest);
    ASSERT_TRUE(ours.has_value()) << digest << ": " << ours.error().message;
    EXPECT_EQ(*ours, openssl_algorithm_id(ec_key(), digest)) << digest;
  }
}

TEST(RsaPkcs1AlgorithmId, SameBytesAsOpenSsl) {
  ASSERT_NE(rsa_key(), nullptr);
  for (const char* digest : {"SHA256", "SHA384", "SHA512"}) {
    auto ours = hwca::provider::rsa_pkcs1_algorithm_id(digest);
    ASSERT_TRUE(ours.has_value()) << digest << ": " << ours.error().message;
    EXPECT_EQ(*ours, openssl_algorithm_id(rsa_key(), digest)) << digest;
  }
}

TEST(RsaPssAlgorithmId, SameFieldsAsOpenSsl) {
  ASSERT_NE(rsa_key(), nullptr);
  struct Case {
    const char* digest;
    const char* mgf1;
    int salt;
    int hash_nid;
    int mgf1_nid;
  };
  const Case cases[] = {
      {"SHA256", "SHA256", 32, NID_sha256, NID_sha256},
      {"SHA384", "SHA384", 48, NID_sha384, NID_sha384},
      {"SHA512", "SHA512", 64, NID_sha512, NID_sha512},
      {"SHA256", "SHA256", 20, NID_sha256, NID_sha256},
      {"SHA256", "SHA256", 0, NID_sha256, NID_sha256},
      {"SHA384", "SHA256", 32, NID_sha384, NID_sha256},
      {"SHA512", "SHA384", 21, NID_sha512, NID_sha384},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.digest) + "/MGF1-" + c.mgf1 + "/salt " + std::to_string(c.salt));
    auto ours = hwca::provider::rsa_pss_algorithm_id(c.digest, c.mgf1, c.salt);
    ASSERT_TRUE(ours.has_value()) << ours.error().message;
    PssSettings settings{c.salt, c.mgf1};
    Bytes theirs = openssl_algorithm_id(rsa_key(), c.digest, &settings);
    ASSERT_FALSE(theirs.empty());
    PssFields a = pss_fields(*ours);
    PssFields b = pss_fields(theirs);
    EXPECT_EQ(a.alg, NID_rsassaPss);
    EXPECT_EQ(a.alg, b.alg);
    EXPECT_EQ(a.hash, c.hash_nid);
    EXPECT_EQ(a.hash, b.hash);
    EXPECT_EQ(a.mgf, NID_mgf1);
    EXPECT_EQ(a.mgf, b.mgf);
    EXPECT_EQ(a.mgf_hash, c.mgf1_nid);
    EXPECT_EQ(a.mgf_hash, b.mgf_hash);
    EXPECT_EQ(a.salt, c.salt);
    EXPECT_EQ(a.salt, b.salt);
    EXPECT_EQ(a.salt_present, b.salt_present);
    EXPECT_EQ(a.salt_present, c.salt != 20);
    EXPECT_EQ(a.trailer, 1);
    EXPECT_EQ(a.trailer, b.trailer);
  }
}

TEST(RsaPssAlgorithmId, DefaultSaltOf20IsOmitted) {
  auto ours = hwca::provider::rsa_pss_algorithm_id("SHA256", "SHA256", 20);
  ASSERT_TRUE(ours.has_value()) << ours.error().message;
  PssFields f = pss_fields(*ours);
  EXPECT_FALSE(f.salt_present);  // DER: a DEFAULT value must not be encoded (X.690 11.5)
  EXPECT_EQ(f.salt, 20);
  auto other = hwca::provider::rsa_pss_algorithm_id("SHA256", "SHA256", 32);
  ASSERT_TRUE(other.has_value()) << other.error().message;
  PssFields g = pss_fields(*other);
  EXPECT_TRUE(g.salt_present);
  EXPECT_EQ(g.salt, 32);
  EXPECT_EQ(ours->size() + 5, other->size());  // [2] { INTEGER 32 } is 5 bytes
}

TEST(AlgorithmId, DigestAliasesGiveTheSameEncoding) {
  auto a = hwca::provider::ecdsa_algorithm_id("SHA2-256");
  auto b = hwca::provider::ecdsa_algorithm_id("SHA256");
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(*a, *b);
  auto c = hwca::provider::rsa_pkcs1_algorithm_id("SHA-384");
  auto d = hwca::provider::rsa_pkcs1_algorithm_id("SHA384");
  ASSERT_TRUE(c.has_value() && d.has_value());
  EXPECT_EQ(*c, *d);
}

TEST(AlgorithmId, UnknownDigestsAreRefused) {
  auto e = hwca::provider::ecdsa_algorithm_id("NO-SUCH-DIGEST");
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().kind, hwca::ErrorKind::usage);
  EXPECT_FALSE(hwca::provider::rsa_pkcs1_algorithm_id("NO-SUCH-DIGEST").has_value());
  auto p = hwca::provider::rsa_pss_algorithm_id("NO-SUCH-DIGEST", "SHA256", 32);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().kind, hwca::ErrorKind::usage);
  EXPECT_FALSE(hwca::provider::rsa_pss_algorithm_id("SHA256", "NO-SUCH-DIGEST", 32).has_value());
}

// The exact encodings the CA/Browser Forum Baseline Requirements (7.1.3.2.1) require for
// RSASSA-PSS with MGF1 over the same hash and a salt as long as the hash.
TEST(RsaPssAlgorithmId, ExactBaselineRequirementsEncodings) {
  const std::pair<const char*, const char*> cases[] = {
      {"SHA256",
       "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f7"
       "0d010108300d06096086480165030402010500a203020120"},
      {"SHA384",
       "304106092a864886f70d01010a3034a00f300d06096086480165030402020500a11c301a06092a864886f7"
       "0d010108300d06096086480165030402020500a203020130"},
      {"SHA512",
       "304106092a864886f70d01010a3034a00f300d06096086480165030402030500a11c301a06092a864886f7"
       "0d010108300d06096086480165030402030500a203020140"}};
  for (const auto& [digest, hex] : cases) {
    int salt = std::string(digest) == "SHA256" ? 32 : std::string(digest) == "SHA384" ? 48 : 64;
    auto der = hwca::provider::rsa_pss_algorithm_id(digest, digest, salt);
    ASSERT_TRUE(der) << der.error().message;
    std::string got;
    for (unsigned char c : *der) {
      static const char* digits = "0123456789abcdef";
      got += digits[c >> 4];
      got += digits[c & 15];
    }
    EXPECT_EQ(got, hex) << digest;
  }
}

}  // namespace
