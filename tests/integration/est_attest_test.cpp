// The attestation rounds of the EST server (est_service_attest.cpp), in process over TLS,
// with software stand-ins for a node's TPM: an RSA-2048 EK whose private half activates the
// credential in software (tests/unit/attest_soft_activation.hpp, OpenSSL's own KDFs), an
// ECC AK and a kubelet key with TPM attribute bits, and TPMS_ATTEST signed by the AK. Every
// check of the server has its negative here; the real TPM's side is in
// tests/integration/cli/node_swtpm_attest.sh.
#include <openssl/x509v3.h>

#include "attest/ek_certificate.hpp"
#include "attest/protocol.hpp"
#include "ca/tpm_registry.hpp"
#include "common/text.hpp"
#include "est_server_fixture.hpp"
#include "node/node_identity.hpp"
#include "support/shell.hpp"
#include "support/swtpm.hpp"
#include "tokens/tpm2/attestation.hpp"
#include "tokens/tpm2/tpm_context.hpp"
#include "unit/attest_keys.hpp"
#include "unit/attest_soft_activation.hpp"

namespace hwca::test {
namespace {

using attest::Bytes;
namespace soft = attest::test;

constexpr const char* kAttestRound1 = "/attest/v1/challenge";
constexpr const char* kAttestRound2 = "/attest/v1/enroll";

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

// A node's TPM in software: its EK, a fresh AK, and a kubelet key, with the attributes a
// TPM gives them (each may be altered by a test).
struct SoftTpm {
  ossl::Ptr<EVP_PKEY> ek = soft::rsa_key(2048);
  ossl::Ptr<EVP_PKEY> ak = soft::ec_key();
  ossl::Ptr<EVP_PKEY> key = soft::ec_key();
  uint32_t ak_attrs = soft::kAkAttrs;
  uint32_t key_attrs = soft::kKeyAttrs;

  TPMT_PUBLIC ek_area() const { return soft::area_of(ek.get(), soft::kEkAttrs); }
  TPMT_PUBLIC ak_area() const { return soft::area_of(ak.get(), ak_attrs); }
  TPMT_PUBLIC key_area() const { return soft::area_of(key.get(), key_attrs); }
  std::string ek_sha256() const { return attest::ek_spki_sha256(ek.get()); }

  attest::ChallengeRequest round1(const std::string& node) const {
    return {node, {}, soft::marshal_public(ek_area()), soft::marshal_public(ak_area())};
  }
  // ActivateCredential with this EK for this AK's name; empty if the TPM would refuse.
  Bytes activate(const attest::ChallengeReply& c) const {
    auto cred = soft::activate(ek.get(), "SHA256", 32, 16, soft::name_sha256(ak_area()),
                               {c.credential_blob, c.encrypted_secret});
    return cred ? *cred : Bytes{};
  }
};

std::string sha256_of(const Bytes& b) {
  unsigned char md[32];
  SHA256(b.data(), b.size(), md);
  return hex_text(md, sizeof md);
}

ossl::Ptr<X509> read_pem_cert(const std::string& path) {
  ossl::Ptr<BIO> bio(BIO_new_file(path.c_str(), "r"));
  return ossl::Ptr<X509>(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
}

std::string hex_of(const Bytes& b) { return hex_text(b.data(), b.size()); }

Bytes der_of(const X509* cert) {
  auto der = ca::cert_der(cert);
  return Bytes(der.begin(), der.end());
}

// A certificate for `key` issued by `issuer_key` (self-signed when `issuer` is null), with
// the EK certificate's shape when `ek`: a critical SAN of TCG attributes.
ossl::Ptr<X509> make_cert(EVP_PKEY* key, const std::string& cn, const X509* issuer,
                          EVP_PKEY* issuer_key, bool ek) {
  ossl::Ptr<X509> c(X509_new());
  X509_set_version(c.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c.get()), 7);
  auto name = name_of({{"CN", cn}});
  X509_set_subject_name(c.get(), name.get());
  X509_set_issuer_name(c.get(), issuer ? X509_get_subject_name(issuer) : name.get());
  X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(c.get()), 3600L * 24 * 365);
  X509_set_pubkey(c.get(), key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer ? const_cast<X509*>(issuer) : c.get(), c.get(), nullptr, nullptr, 0);
  auto add = [&](const char* name_, const char* value) {
    X509_EXTENSION* e = X509V3_EXT_conf(nullptr, &ctx, name_, value);
    X509_add_ext(c.get(), e, -1);
    X509_EXTENSION_free(e);
  };
  if (ek) {
    add("keyUsage", "critical,keyEncipherment");
  } else {
    add("basicConstraints", "critical,CA:TRUE");
    add("keyUsage", "critical,keyCertSign");
  }
  X509_sign(c.get(), issuer_key, EVP_sha256());
  return c;
}

class EstAttestTest : public EstServerTest {
 protected:
  void SetUp() override {
    EstServerTest::SetUp();
    configure_ = [this](est::EstService& s) { s.enable_attestation(*db_, options_); };
  }

  // start(), and forget the server's own TLS certificate: from here on nothing is issued
  // but what the test asks for.
  void serve() {
    start();
    store_->forget();
  }

  void register_node(const std::string& node, const SoftTpm& tpm) {
    ca::NodeTpm t;
    t.node = node;
    t.ek_sha256 = tpm.ek_sha256();
    t.ek_kind = "public-key";
    t.ek_der = attest::ek_spki_der(tpm.ek.get());
    t.registered_at = std::time(nullptr);
    t.registered_by = "test:attest";
    auto ok = db_->register_tpm(t);
    ASSERT_TRUE(ok) << ok.error().message;
  }

  Answer post(httplib::SSLClient& cli, const char* path, const std::string& json) {
    return answer_of(cli.Post(path, json, attest::kJsonType));
  }

  // Round 1; the challenge, or the answer when it was refused.
  std::optional<attest::ChallengeReply> challenge(httplib::SSLClient& cli,
                                                  const attest::ChallengeRequest& r,
                                                  Answer* refused = nullptr) {
    Answer a = post(cli, kAttestRound1, attest::to_json(r));
    if (a.status != 200) {
      if (refused != nullptr) *refused = std::move(a);
      return std::nullopt;
    }
    auto c = attest::challenge_reply_from_json(a.body);
    EXPECT_TRUE(c) << c.error().message;
    if (!c) return std::nullopt;
    return *c;
  }

  // Everything round 2 sends, made honestly by `tpm` for `challenge`; tests alter it.
  attest::EnrollRequest answer(const SoftTpm& tpm, const std::string& node,
                               const attest::ChallengeReply& c) {
    attest::EnrollRequest e;
    e.node = node;
    e.nonce = c.nonce;
    e.secret = tpm.activate(c);
    e.csr = bytes_of(csr_der(make_csr(tpm.key.get(), node_subject(node).get()).get()));
    e.key_public = soft::marshal_public(tpm.key_area());
    e.certify_info = soft::marshal_attest(
        soft::certify_info(soft::name_sha256(tpm.key_area()), attest::qualifying_data(e.nonce, e.csr)));
    e.certify_signature = soft::sign(tpm.ak.get(), e.certify_info);
    return e;
  }

  // Both rounds; round 2's answer. `alter` changes round 2 before it is sent.
  Answer enroll(httplib::SSLClient& cli, const SoftTpm& tpm, const std::string& node,
                const std::function<void(attest::EnrollRequest&)>& alter = {}) {
    Answer refused;
    auto c = challenge(cli, tpm.round1(node), &refused);
    if (!c) return refused;
    auto e = answer(tpm, node, *c);
    if (alter) alter(e);
    return post(cli, kAttestRound2, attest::to_json(e));
  }

  // The requests counter is bumped after the reply went out (the HTTP layer's logger): wait
  // for it to reach `value`, for a second at most; what it then says.
  long long requests_seen(const std::string& endpoint, int code, long long value) {
    const auto until = Clock::now() + 1s;
    long long now = sample(metrics_.text(), requests(endpoint, code));
    while (now != value && Clock::now() < until) {
      std::this_thread::sleep_for(5ms);
      now = sample(metrics_.text(), requests(endpoint, code));
    }
    return now;
  }

  long long rejections(const std::string& reason) {
    return std::max(0LL, sample(metrics_.text(), rejected(reason)));
  }

  // Refused with `status` and `reason` (a metric), the text mentioning `says`; nothing issued.
  void expect_refused(const Answer& a, int status, const std::string& reason,
                      const std::string& says, long long before) {
    EXPECT_EQ(a.status, status) << a.body;
    EXPECT_NE(a.body.find(says), std::string::npos) << a.body;
    EXPECT_EQ(rejections(reason), before + 1) << "reason " << reason << "; body " << a.body;
    EXPECT_TRUE(store_->batches().empty()) << "something was issued";
  }

  est::AttestationOptions options_;
};

TEST_F(EstAttestTest, AnAttestedKeyGetsItsNodesCertificate) {
  serve();
  SoftTpm tpm;
  register_node("worker-1", tpm);
  auto cli = client();
  Answer a = enroll(*cli, tpm, "worker-1");
  ASSERT_EQ(a.status, 200) << a.body;
  ASSERT_EQ(a.certs.size(), 1u);
  expect_node_certificate(a.certs[0].get(), "worker-1", tpm.key.get());
  EXPECT_EQ(requests_seen("attest_enroll", 200, 1), 1);
  auto view = audit_view();
  EXPECT_EQ(view.issued.count(serial_of(a.certs[0].get())), 1u);
  // What proved the key is kept with the certificate.
  auto row = db_->find(kCa, serial_of(a.certs[0].get()));
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->attest_ek_sha256, tpm.ek_sha256());
  EXPECT_EQ((*row)->attest_ak_name, hex_of(soft::name_sha256(tpm.ak_area())));
  EXPECT_EQ((*row)->attest_key_name, hex_of(soft::name_sha256(tpm.key_area())));
}

TEST_F(EstAttestTest, RoundOneRefusesAnEkNotRegisteredForTheNode) {
  serve();
  SoftTpm a_tpm, b_tpm, stranger;
  register_node("node-a", a_tpm);
  register_node("node-b", b_tpm);
  auto cli = client();
  long long before = rejections("ek_not_registered");
  Answer refused;
  EXPECT_FALSE(challenge(*cli, stranger.round1("node-a"), &refused));
  expect_refused(refused, 403, "ek_not_registered", "not the one registered", before);
  // Node A's TPM presented as node B.
  EXPECT_FALSE(challenge(*cli, a_tpm.round1("node-b"), &refused));
  expect_refused(refused, 403, "ek_not_registered", "node 'node-b'", before + 1);
  // A node with no TPM registered at all.
  EXPECT_FALSE(challenge(*cli, a_tpm.round1("node-c"), &refused));
  expect_refused(refused, 403, "ek_not_registered", "node 'node-c'", before + 2);
}

TEST_F(EstAttestTest, RoundOneRefusesAnAkThatIsNotARestrictedTpmKey) {
  serve();
  auto cli = client();
  struct Case {
    uint32_t clear, set;
    const char* reason;
  } cases[] = {{TPMA_OBJECT_RESTRICTED, 0, "attest_not_restricted"},
               {TPMA_OBJECT_FIXEDTPM, 0, "attest_not_fixed_tpm"},
               {TPMA_OBJECT_FIXEDPARENT, 0, "attest_not_fixed_parent"},
               {TPMA_OBJECT_SENSITIVEDATAORIGIN, 0, "attest_not_sensitive_data_origin"},
               {TPMA_OBJECT_SIGN_ENCRYPT, 0, "attest_not_sign"},
               {0, TPMA_OBJECT_DECRYPT, "attest_decrypt"}};
  int n = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    SoftTpm tpm;
    tpm.ak_attrs = (tpm.ak_attrs & ~c.clear) | c.set;
    const std::string node = "worker-ak" + std::to_string(++n);
    register_node(node, tpm);
    long long before = rejections(c.reason);
    Answer refused;
    EXPECT_FALSE(challenge(*cli, tpm.round1(node), &refused));
    expect_refused(refused, 403, c.reason, "AK: ", before);
  }
}

TEST_F(EstAttestTest, ASoftwareAkCannotActivateTheRegisteredEksCredential) {
  // The forger knows the node's EK (public) and makes its own AK and key: the credential
  // is for the EK's TPM, so it cannot say the secret; a guess is refused, nothing issued.
  serve();
  SoftTpm real, forger;
  forger.ek = soft::rsa_key(2048);
  register_node("worker-1", real);
  auto cli = client();
  attest::ChallengeRequest r = forger.round1("worker-1");
  r.ek_public = soft::marshal_public(real.ek_area());  // the real EK, public
  auto c = challenge(*cli, r);
  ASSERT_TRUE(c);
  EXPECT_TRUE(forger.activate(*c).empty()) << "the forger's EK cannot unwrap it";
  auto e = answer(forger, "worker-1", *c);
  e.secret = Bytes(32, 0x42);
  long long before = rejections("attest_activation");
  expect_refused(post(*cli, kAttestRound2, attest::to_json(e)), 401, "attest_activation",
                 "secret does not match", before);
}

TEST_F(EstAttestTest, RoundTwoRefusesEachBadPieceOfEvidence) {
  serve();
  SoftTpm tpm;
  register_node("worker-1", tpm);
  auto cli = client();
  struct Case {
    const char* name;
    int status;
    const char* reason;
    const char* says;
    std::function<void(attest::EnrollRequest&)> alter;
  };
  SoftTpm other;  // another key, another AK
  const std::vector<Case> cases = {
      {"a key with decrypt", 403, "attest_decrypt", "key: ",
       [&](attest::EnrollRequest& e) {
         auto area = soft::area_of(tpm.key.get(), soft::kKeyAttrs | TPMA_OBJECT_DECRYPT);
         e.key_public = soft::marshal_public(area);
       }},
      {"a restricted key", 403, "attest_restricted", "key: ",
       [&](attest::EnrollRequest& e) {
         e.key_public = soft::marshal_public(
             soft::area_of(tpm.key.get(), soft::kKeyAttrs | TPMA_OBJECT_RESTRICTED));
       }},
      {"a key that may leave the TPM", 403, "attest_not_fixed_tpm", "key: ",
       [&](attest::EnrollRequest& e) {
         e.key_public = soft::marshal_public(
             soft::area_of(tpm.key.get(), soft::kKeyAttrs & ~TPMA_OBJECT_FIXEDTPM));
       }},
      {"a trailing byte on the attest", 403, "attest_trailing_bytes", "certify: ",
       [&](attest::EnrollRequest& e) {
         e.certify_info.push_back(0);
         e.certify_signature = soft::sign(tpm.ak.get(), e.certify_info);
       }},
      {"extraData for another request", 403, "attest_extra_data_mismatch", "certify: ",
       [&](attest::EnrollRequest& e) {
         e.certify_info = soft::marshal_attest(soft::certify_info(
             soft::name_sha256(tpm.key_area()), attest::qualifying_data(e.nonce, Bytes{1, 2})));
         e.certify_signature = soft::sign(tpm.ak.get(), e.certify_info);
       }},
      {"a signature by another AK", 403, "attest_bad_signature", "certify: ",
       [&](attest::EnrollRequest& e) { e.certify_signature = soft::sign(other.ak.get(), e.certify_info); }},
      {"a flipped byte in the signature", 403, "attest_bad_signature", "certify: ",
       [&](attest::EnrollRequest& e) { e.certify_signature[e.certify_signature.size() - 3] ^= 1; }},
      {"a certify of another key", 403, "attest_name_mismatch", "certify: ",
       [&](attest::EnrollRequest& e) {
         e.certify_info = soft::marshal_attest(soft::certify_info(
             soft::name_sha256(other.key_area()), attest::qualifying_data(e.nonce, e.csr)));
         e.certify_signature = soft::sign(tpm.ak.get(), e.certify_info);
       }},
      {"a request for another key than the certified one", 403, "attest_key_mismatch",
       "not for the key the TPM certified",
       [&](attest::EnrollRequest& e) {
         e.csr = bytes_of(csr_der(make_csr(other.key.get(), node_subject("worker-1").get()).get()));
         e.certify_info = soft::marshal_attest(soft::certify_info(
             soft::name_sha256(tpm.key_area()), attest::qualifying_data(e.nonce, e.csr)));
         e.certify_signature = soft::sign(tpm.ak.get(), e.certify_info);
       }},
      {"a request for another node", 403, "subject", "system:node:worker-1",
       [&](attest::EnrollRequest& e) {
         e.csr = bytes_of(csr_der(make_csr(tpm.key.get(), node_subject("worker-2").get()).get()));
         e.certify_info = soft::marshal_attest(soft::certify_info(
             soft::name_sha256(tpm.key_area()), attest::qualifying_data(e.nonce, e.csr)));
         e.certify_signature = soft::sign(tpm.ak.get(), e.certify_info);
       }},
  };
  const size_t lines = audit_lines();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    long long before = rejections(c.reason);
    expect_refused(enroll(*cli, tpm, "worker-1", c.alter), c.status, c.reason, c.says, before);
  }
  // The node had proven its TPM: each refusal is on an audit line of its own.
  auto view = audit_view(lines);
  ASSERT_EQ(view.rejected.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(view.rejected[i].at("reason"), cases[i].reason);
    EXPECT_EQ(view.rejected[i].at("node"), "worker-1");
    EXPECT_EQ(view.rejected[i].at("label"), "attest");
  }
  // And the honest evidence still works after all that.
  EXPECT_EQ(enroll(*cli, tpm, "worker-1").status, 200);
}

TEST_F(EstAttestTest, ANonceIsGoodOnceForItsNodeAndNotAfterItExpires) {
  options_.nonce_ttl = std::chrono::seconds(1);
  serve();
  SoftTpm tpm, other;
  register_node("worker-1", tpm);
  register_node("worker-2", other);
  auto cli = client();
  auto c = challenge(*cli, tpm.round1("worker-1"));
  ASSERT_TRUE(c);
  auto e = answer(tpm, "worker-1", *c);
  // For another node: the nonce is bound to worker-1 (and then spent).
  auto as_other = e;
  as_other.node = "worker-2";
  long long before = rejections("nonce_node");
  expect_refused(post(*cli, kAttestRound2, attest::to_json(as_other)), 401, "nonce_node",
                 "given to node 'worker-1'", before);
  before = rejections("nonce_reused");
  expect_refused(post(*cli, kAttestRound2, attest::to_json(e)), 401, "nonce_reused",
                 "answered already", before);
  // Replayed evidence for a new nonce: the extraData is the old nonce's.
  auto c2 = challenge(*cli, tpm.round1("worker-1"));
  ASSERT_TRUE(c2);
  auto replay = e;
  replay.nonce = c2->nonce;
  replay.secret = tpm.activate(*c2);
  before = rejections("attest_extra_data_mismatch");
  expect_refused(post(*cli, kAttestRound2, attest::to_json(replay)), 403,
                 "attest_extra_data_mismatch", "certify: ", before);
  // A nonce never given.
  auto unknown = e;
  unknown.nonce = Bytes(attest::kNonceSize, 0x11);
  before = rejections("nonce_unknown");
  expect_refused(post(*cli, kAttestRound2, attest::to_json(unknown)), 401, "nonce_unknown",
                 "unknown nonce", before);
  // Too late.
  auto c3 = challenge(*cli, tpm.round1("worker-1"));
  ASSERT_TRUE(c3);
  auto late = answer(tpm, "worker-1", *c3);
  std::this_thread::sleep_for(1100ms);
  before = rejections("nonce_expired");
  expect_refused(post(*cli, kAttestRound2, attest::to_json(late)), 401, "nonce_expired",
                 "expired", before);
}

TEST_F(EstAttestTest, AnEkCertificateMustChainToTheEkRootsWhenThereAreSome) {
  serve();
  auto root_key = soft::ec_key(), other_root_key = soft::ec_key();
  auto root = make_cert(root_key.get(), "EK root", nullptr, root_key.get(), false);
  auto other_root = make_cert(other_root_key.get(), "Other root", nullptr, other_root_key.get(), false);
  SoftTpm good, bad;
  auto good_cert = make_cert(good.ek.get(), "unknown", root.get(), root_key.get(), true);
  auto bad_cert = make_cert(bad.ek.get(), "unknown", other_root.get(), other_root_key.get(), true);
  register_node("good", good);
  register_node("bad", bad);
  auto cli = client();
  auto with_cert = [](const SoftTpm& t, const std::string& node, const X509* cert) {
    auto r = t.round1(node);
    r.ek_public.clear();  // the certificate alone: the template's parameters
    r.ek_certificate = der_of(cert);
    return r;
  };
  // No roots yet: a registered EK's certificate is enough.
  EXPECT_TRUE(challenge(*cli, with_cert(bad, "bad", bad_cert.get())));
  ca::EkRoot r;
  r.der = der_of(root.get());
  r.sha256 = sha256_of(r.der);
  r.subject = "CN=EK root";
  r.anchor = true;
  auto added = db_->add_ek_root(r);
  ASSERT_TRUE(added) << added.error().message;
  Answer refused;
  long long before = rejections("ek_untrusted");
  EXPECT_FALSE(challenge(*cli, with_cert(bad, "bad", bad_cert.get()), &refused));
  expect_refused(refused, 403, "ek_untrusted", "does not chain", before);
  // The trusted one goes all the way, its credential made from the certificate's key.
  auto c = challenge(*cli, with_cert(good, "good", good_cert.get()));
  ASSERT_TRUE(c);
  auto e = answer(good, "good", *c);
  EXPECT_EQ(post(*cli, kAttestRound2, attest::to_json(e)).status, 200);
}

TEST_F(EstAttestTest, ARegisteredNodeIsRefusedItsBootstrapToken) {
  serve();
  SoftTpm tpm;
  register_node("worker-1", tpm);
  auto cli = client();
  auto key = software_key();
  const std::string token = add_token("worker-1");
  long long before = rejections("attestation_required");
  Answer a = answer_of(cli->Post(kEnroll, basic("worker-1", token),
                                 request_body(key.get(), node_subject("worker-1").get()),
                                 est::kPkcs10Type));
  expect_refused(a, 403, "attestation_required", "enrolls by TPM attestation only", before);
  // The token was given back: unused, for the day the node is unregistered.
  auto tokens = db_->tokens();
  ASSERT_TRUE(tokens);
  ASSERT_EQ(tokens->size(), 1u);
  EXPECT_EQ(tokens->front().used_at, 0);
  // A node without a registered TPM still enrolls with its token.
  EXPECT_EQ(answer_of(cli->Post(kEnroll, basic("worker-2", add_token("worker-2")),
                                request_body(key.get(), node_subject("worker-2").get()),
                                est::kPkcs10Type))
                .status,
            200);
}

TEST_F(EstAttestTest, RequireAttestationRefusesEveryBootstrapToken) {
  options_.require = true;
  serve();
  auto cli = client();
  auto key = software_key();
  long long before = rejections("attestation_required");
  Answer a = answer_of(cli->Post(kEnroll, basic("worker-2", add_token("worker-2")),
                                 request_body(key.get(), node_subject("worker-2").get()),
                                 est::kPkcs10Type));
  expect_refused(a, 403, "attestation_required", "bootstrap tokens are refused", before);
}

TEST_F(EstAttestTest, WithoutARegistryTheRoundsAreNotServed) {
  configure_ = nullptr;
  serve();
  auto cli = client();
  SoftTpm tpm;
  EXPECT_EQ(post(*cli, kAttestRound1, attest::to_json(tpm.round1("worker-1"))).status, 404);
}

// hwca-node itself, its kubelet key and EK in a swtpm, against this server: the EK it shows
// is the one registered, and both rounds pass with what the real TPM made.
TEST_F(EstAttestTest, HwcaNodeEnrollsByAttestationWithARealTpm) {
  serve();
  Swtpm tpm;
  auto ek = tokens::tpm2::read_ek(tpm.tcti(), tokens::tpm2::EkChoice::any);
  ASSERT_TRUE(ek) << ek.error().message;
  tokens::tpm2::TpmContext::close_all();  // a swtpm serves one client at a time
  auto id = node::ek_identity(*ek);
  ASSERT_TRUE(id) << id.error().message;
  ca::NodeTpm t;
  t.node = "worker-1";
  t.ek_sha256 = id->spki_sha256;
  t.ek_kind = "certificate";
  t.ek_der = ek->certificate;
  t.registered_at = std::time(nullptr);
  t.registered_by = "test:attest";
  auto registered = db_->register_tpm(t);
  ASSERT_TRUE(registered) << registered.error().message;
  int status = -1;
  std::string out = shell(
      "HWCA_TCTI='" + tpm.tcti() + "' " HWCA_NODE_BIN " enroll --attest --node-name worker-1" +
          " --server https://127.0.0.1:" + std::to_string(port_) + " --ca-cert " + ca_pem_ +
          " --key tpm2:file=" + dir_.file("kubelet.tpmkey") + " --cert-out " +
          dir_.file("kubelet.pem"),
      &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find("(attested: EK sha256 " + id->spki_sha256.substr(0, 16) + "...)"),
            std::string::npos)
      << out;
  EXPECT_EQ(requests_seen("attest_enroll", 200, 1), 1);
  // The row keeps what proved the key: this EK, and the key's Name as the TPM computes it.
  auto cert = read_pem_cert(dir_.file("kubelet.pem"));
  ASSERT_TRUE(cert);
  auto row = db_->find(kCa, serial_of(cert.get()));
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->attest_ek_sha256, id->spki_sha256);
  EXPECT_EQ((*row)->attest_ak_name.size(), 68u);  // SHA-256 Name: 2 + 32 bytes, in hex
  EXPECT_EQ((*row)->attest_key_name.size(), 68u);
}

}  // namespace
}  // namespace hwca::test
