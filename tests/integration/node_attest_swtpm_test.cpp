// The node's side of TPM attestation (tokens/tpm2/attestation) against a swtpm made with EK
// certificates, checked by the CA's side (src/attest, no TPM): the EK made from the TCG
// template is the certificate's key (RSA-2048 and swtpm's ECC P-384); a credential made in
// software for the AK's Name activates, one for another Name is refused by the TPM; TPM2_
// Certify evidence for a kubelet key hwca made passes the CA's checks with the given
// qualifying data only; nothing stays loaded (tpm2_getcap handles-transient).
#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <cstdio>
#include <memory>
#include <string>

#include "attest/certify_evidence.hpp"
#include "attest/make_credential.hpp"
#include "attest/tpm_public.hpp"
#include "support/shell.hpp"
#include "support/swtpm.hpp"
#include "tokens/keystore.hpp"
#include "tokens/tpm2/attestation.hpp"
#include "tokens/tpm2/tpm2_keystore.hpp"
#include "tokens/tpm2/tpm_context.hpp"

namespace hwca::tokens::tpm2 {
namespace {

using attest::Bytes;

using hwca::test::shell;

ossl::Ptr<X509> parse_cert(const Bytes& der) {
  const unsigned char* p = der.data();
  return ossl::Ptr<X509>(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

attest::TpmPublic parsed(const Bytes& tpm2b_public) {
  auto p = attest::parse_public(tpm2b_public);
  EXPECT_TRUE(p) << (p ? "" : p.error().message);
  return p ? *p : attest::TpmPublic{};
}

class NodeAttestSwtpm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tpm_ = std::make_unique<hwca::test::Swtpm>();
    key_uri_ = "tpm2:file=" + tpm_->dir() + "/kubelet.tpmkey";
    OpenOptions o;
    o.tcti = tpm_->tcti();
    auto made = Tpm2KeyStore(o).create_key({key_uri_, KeyType::ec_p256});
    ASSERT_TRUE(made) << made.error().message;
  }
  static void TearDownTestSuite() {
    TpmContext::close_all();
    tpm_.reset();
  }
  void TearDown() override {
    // What the test left in the TPM: every context closed first (swtpm serves one client).
    TpmContext::close_all();
    int status = -1;
    std::string out =
        shell(tpm_->tools_env() + "timeout 30 tpm2_getcap handles-transient", &status);
    EXPECT_EQ(status, 0) << out;
    EXPECT_EQ(out, "") << "transient objects left in the TPM";
  }

  static std::unique_ptr<NodeAttestor> open(EkChoice choice) {
    auto a = NodeAttestor::open(tpm_->tcti(), choice);
    EXPECT_TRUE(a) << (a ? "" : a.error().message);
    return a ? std::move(*a) : nullptr;
  }

  static std::unique_ptr<hwca::test::Swtpm> tpm_;
  static std::string key_uri_;
};

std::unique_ptr<hwca::test::Swtpm> NodeAttestSwtpm::tpm_;
std::string NodeAttestSwtpm::key_uri_;

struct Case {
  EkChoice choice;
  EkKind kind;
  uint32_t nv;
};
const Case kCases[] = {{EkChoice::rsa, EkKind::rsa2048, kEkCertRsa2048},
                       {EkChoice::ecc, EkKind::ecc_p384, kEkCertEccP384}};

TEST_F(NodeAttestSwtpm, TheEkFromItsTemplateIsTheCertificatesKey) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(ek_kind_name(c.kind));
    auto a = open(c.choice);
    ASSERT_TRUE(a);
    const EkInfo& ek = a->ek();
    EXPECT_EQ(ek.kind, c.kind);
    EXPECT_EQ(ek.nv_index, c.nv);
    auto cert = parse_cert(ek.certificate);
    ASSERT_TRUE(cert) << "the certificate from NV does not parse";
    auto pub = parsed(ek.public_area);
    auto key = attest::public_key(pub.area);
    ASSERT_TRUE(key) << key.error().message;
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key->get()), 1);
    // The CA's view: an EK of the template's kind, as it assumes from the certificate.
    auto from_cert = attest::ek_from_certificate(cert.get());
    auto from_pub = attest::ek_from_public(pub);
    ASSERT_TRUE(from_cert && from_pub);
    EXPECT_EQ(from_cert->name_alg, from_pub->name_alg);
    EXPECT_EQ(from_cert->aes_bits, from_pub->aes_bits);
    // The AK is fit for attestation, and not for a certificate.
    auto ak = parsed(a->ak_public());
    EXPECT_TRUE(attest::is_attestation_key(ak.area));
    EXPECT_EQ(ak.area.objectAttributes, 0x00050072u);
  }
  // read_ek (hwca-node ek show) finds the same EK, RSA first.
  auto any = read_ek(tpm_->tcti(), EkChoice::any);
  ASSERT_TRUE(any) << any.error().message;
  EXPECT_EQ(any->kind, EkKind::rsa2048);
  EXPECT_EQ(any->nv_index, kEkCertRsa2048);
}

TEST_F(NodeAttestSwtpm, ACredentialForTheAksNameActivatesAndOneForAnotherNameIsRefused) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(ek_kind_name(c.kind));
    auto a = open(c.choice);
    ASSERT_TRUE(a);
    auto cert = parse_cert(a->ek().certificate);
    ASSERT_TRUE(cert);
    auto ek = attest::ek_from_certificate(cert.get());
    ASSERT_TRUE(ek) << ek.error().message;
    Bytes name = parsed(a->ak_public()).name;
    Bytes secret(32);
    ASSERT_EQ(RAND_bytes(secret.data(), 32), 1);
    auto cred = attest::make_credential(*ek, name, secret);
    ASSERT_TRUE(cred) << cred.error().message;
    auto got = a->activate(cred->id_object, cred->encrypted_secret);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, secret);
    // Made for another object's Name: the TPM's HMAC over the name fails.
    Bytes other = name;
    other.back() ^= 1;
    auto wrong = attest::make_credential(*ek, other, secret);
    ASSERT_TRUE(wrong);
    auto refused = a->activate(wrong->id_object, wrong->encrypted_secret);
    ASSERT_FALSE(refused) << "activated a credential made for another name";
    EXPECT_EQ(refused.error().kind, ErrorKind::auth);
    EXPECT_NE(refused.error().message.find("refused the CA's challenge"), std::string::npos)
        << refused.error().message;
    // Bytes that are no credential at all.
    auto junk = a->activate(Bytes{1, 2, 3}, cred->encrypted_secret);
    ASSERT_FALSE(junk);
    EXPECT_EQ(junk.error().kind, ErrorKind::usage);
  }
}

TEST_F(NodeAttestSwtpm, CertifyEvidencePassesTheCasChecksForItsQualifyingDataOnly) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(ek_kind_name(c.kind));
    auto a = open(c.choice);
    ASSERT_TRUE(a);
    Bytes qualifying(32);
    ASSERT_EQ(RAND_bytes(qualifying.data(), 32), 1);
    auto ev = a->certify(key_uri_, qualifying, "");
    ASSERT_TRUE(ev) << ev.error().message;
    auto ak = parsed(a->ak_public());
    auto key = parsed(ev->key_public);
    auto is_ak = attest::is_attestation_key(ak.area);
    EXPECT_TRUE(is_ak) << (is_ak ? "" : is_ak.error().message);
    auto certifiable = attest::is_certifiable_key(key.area);
    EXPECT_TRUE(certifiable) << (certifiable ? "" : certifiable.error().message);
    auto ok = attest::verify_certify(ev->attest, ev->signature, ak, key, qualifying);
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().message);
    Bytes other = qualifying;
    other[0] ^= 1;
    auto wrong = attest::verify_certify(ev->attest, ev->signature, ak, key, other);
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().reason, attest::Reason::extra_data_mismatch);
    // The key certified is the kubelet key of the file, as the CA will compare with the CSR.
    OpenOptions o;
    o.tcti = tpm_->tcti();
    auto file_key = Tpm2KeyStore(o).get_public_key(key_uri_);
    ASSERT_TRUE(file_key);
    auto certified_key = attest::public_key(key.area);
    ASSERT_TRUE(certified_key);
    EXPECT_EQ(EVP_PKEY_eq(file_key->get(), certified_key->get()), 1);
  }
}

TEST_F(NodeAttestSwtpm, EachAttestorHasAFreshAkAndCountsTheTpmCommands) {
  auto a = open(EkChoice::rsa);
  ASSERT_TRUE(a);
  uint64_t first = a->tpm_commands();
  EXPECT_GT(first, 3u);  // at least Startup, the NV reads, two CreatePrimary
  Bytes ak1 = a->ak_public();
  a.reset();
  auto b = open(EkChoice::rsa);
  ASSERT_TRUE(b);
  EXPECT_NE(b->ak_public(), ak1) << "the same AK twice";
  EXPECT_GT(b->tpm_commands(), first) << "the count does not grow";
}

}  // namespace
}  // namespace hwca::tokens::tpm2
