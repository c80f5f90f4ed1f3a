// Unit tests for src/ca/certificate_builder.hpp with software keys: extensions exactly as
// specified, key identifiers chained, signatures that verify, the right digest per key.
#include "ca/certificate_builder.hpp"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "ca/dn.hpp"

namespace {

using hwca::ca::build_certificate;
using hwca::ca::CertificateSpec;
namespace ossl = hwca::ossl;

ossl::Ptr<EVP_PKEY> ec_key(const char* curve) {
  return ossl::Ptr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

CertificateSpec ca_spec(const X509_NAME* subject, EVP_PKEY* key) {
  CertificateSpec s;
  s.subject = subject;
  s.subject_key = key;
  s.issuer_key = key;
  s.serial = *hwca::ca::Serial::random();
  s.not_before = std::time(nullptr) - 300;
  s.not_after = s.not_before + 86400;
  s.ca = true;
  s.key_usage_bits = {0, 5, 6};
  return s;
}

TEST(CertificateBuilder, RootHasExactlyTheCaExtensions) {
  auto key = ec_key("P-256");
  auto name = hwca::ca::parse_dn("/CN=root");
  ASSERT_TRUE(name);
  auto spec = ca_spec(name->get(), key.get());
  spec.path_len = 1;
  auto cert = build_certificate(spec, nullptr);
  ASSERT_TRUE(cert) << cert.error().message;
  X509* x = cert->get();
  EXPECT_EQ(X509_verify(x, key.get()), 1);
  EXPECT_EQ(X509_get_version(x), X509_VERSION_3);
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);

  int crit = -1;
  auto* bc =
      static_cast<BASIC_CONSTRAINTS*>(X509_get_ext_d2i(x, NID_basic_constraints, &crit, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_EQ(crit, 1);
  EXPECT_NE(bc->ca, 0);
  ASSERT_NE(bc->pathlen, nullptr);
  EXPECT_EQ(ASN1_INTEGER_get(bc->pathlen), 1);
  BASIC_CONSTRAINTS_free(bc);

  auto* ku = static_cast<ASN1_BIT_STRING*>(X509_get_ext_d2i(x, NID_key_usage, &crit, nullptr));
  ASSERT_NE(ku, nullptr);
  EXPECT_EQ(crit, 1);
  EXPECT_EQ(X509_get_key_usage(x),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  ASN1_BIT_STRING_free(ku);

  EXPECT_NE(X509_get0_subject_key_id(x), nullptr);
  EXPECT_EQ(X509_get_ext_by_NID(x, NID_authority_key_identifier, -1), -1);  // none on a root
  EXPECT_EQ(X509_get_ext_by_NID(x, NID_ext_key_usage, -1), -1);
  EXPECT_EQ(X509_get_ext_count(x), 3);  // basicConstraints, keyUsage, subjectKeyIdentifier
  auto serial = spec.serial.to_asn1();
  EXPECT_EQ(ASN1_INTEGER_cmp(X509_get0_serialNumber(x), serial.get()), 0);
  EXPECT_EQ(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
}

TEST(CertificateBuilder, IntermediateChainsToItsRoot) {
  auto root_key = ec_key("P-384");
  auto sub_key = ec_key("P-256");
  auto root_name = hwca::ca::parse_dn("/CN=root");
  auto sub_name = hwca::ca::parse_dn("/CN=intermediate");
  auto root = build_certificate(ca_spec(root_name->get(), root_key.get()), nullptr);
  ASSERT_TRUE(root);
  auto spec = ca_spec(sub_name->get(), sub_key.get());
  spec.issuer = root->get();
  spec.issuer_key = root_key.get();
  spec.path_len = 0;
  auto sub = build_certificate(spec, nullptr);
  ASSERT_TRUE(sub) << sub.error().message;
  EXPECT_EQ(X509_get_signature_nid(sub->get()), NID_ecdsa_with_SHA384);  // the issuer's curve
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(sub->get()),
                                  X509_get0_subject_key_id(root->get())),
            0);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, root->get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  ASSERT_EQ(X509_STORE_CTX_init(ctx, store, sub->get(), nullptr), 1);
  EXPECT_EQ(X509_verify_cert(ctx), 1)
      << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
}

TEST(CertificateBuilder, EmptyValidityIsRefused) {
  auto key = ec_key("P-256");
  auto name = hwca::ca::parse_dn("/CN=x");
  auto spec = ca_spec(name->get(), key.get());
  spec.not_after = spec.not_before;
  auto cert = build_certificate(spec, nullptr);
  ASSERT_FALSE(cert);
  EXPECT_EQ(cert.error().kind, hwca::ErrorKind::usage);
}

}  // namespace
