// hwca-node enroll --attest and renew --new-key, the binary with its key in a swtpm of the
// test's own, against a stand-in for hwca serve's two attestation routes: cpp-httplib's
// SSLServer on 127.0.0.1 that checks each round with the CA's own checks (src/attest: the
// AK's attributes, MakeCredential for its Name to the EK of the certificate the node sent,
// the activated secret, TPM2_Certify with qualifying_data(nonce, request), the certified
// key being the request's) and answers with a certificate from a software CA, as
// simpleenroll does. The real server's policy (registry, nonce expiry, audit) is not here.
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>

#include "attest/certify_evidence.hpp"
#include "attest/make_credential.hpp"
#include "attest/protocol.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/spki.hpp"
#include "est/est_codec.hpp"
#include "support/server_thread.hpp"
#include "support/swtpm.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"
#include "tokens/tpm2/attestation.hpp"
#include "tokens/tpm2/tpm_context.hpp"

namespace hwca::test {
namespace {

using attest::Bytes;

// The attestation routes, checking as the CA does; a refusal is text/plain, one line.
class AttestServer {
 public:
  AttestServer(X509* ca_cert, EVP_PKEY* ca_key, X509* cert, EVP_PKEY* key)
      : ca_cert_(ca_cert), ca_key_(ca_key), server_(cert, key, trust(ca_cert)) {
    if (!server_.is_valid()) throw std::runtime_error("SSLServer: " + ossl::take_errors());
    // A client certificate is asked for and checked, but not required (round 1 of a first
    // enrollment comes without one).
    SSL_CTX_set_verify(server_.ssl_context(), SSL_VERIFY_PEER, nullptr);
    server_.Post(attest::kChallengePath, [this](const httplib::Request& q, httplib::Response& r) {
      answer(r, challenge(q));
    });
    server_.Post(attest::kEnrollPath,
                 [this](const httplib::Request& q, httplib::Response& r) { answer(r, enroll(q)); });
    thread_.emplace(server_);
  }
  int port() const { return thread_->port(); }

  // What the last enrollment showed: the EK certificate, the client certificate (if any).
  struct Seen {
    Bytes ek_certificate;
    ossl::Ptr<X509> peer;
    int enrolled = 0;
  };
  Seen take() {
    std::lock_guard lock(mu_);
    return std::move(seen_);
  }
  // The next round 2 is refused with this status and line (0: not).
  void refuse_next(int status, std::string line) {
    std::lock_guard lock(mu_);
    refuse_status_ = status;
    refuse_line_ = std::move(line);
  }

 private:
  struct Reply {
    int status = 200;
    std::string body, type = "text/plain";
  };
  static Reply no(int status, const std::string& line) { return {status, line + "\n"}; }
  static void answer(httplib::Response& r, const Reply& reply) {
    r.status = reply.status;
    r.set_content(reply.body, reply.type.c_str());
  }
  static X509_STORE* trust(X509* ca_cert) {
    X509_STORE* store = X509_STORE_new();
    if (store == nullptr || X509_STORE_add_cert(store, ca_cert) != 1) {
      throw std::runtime_error("cannot make the server's trust store");
    }
    return store;
  }

  Reply challenge(const httplib::Request& q) {
    auto m = attest::challenge_request_from_json(q.body);
    if (!m) return no(400, m.error().message);
    const unsigned char* p = m->ek_certificate.data();
    ossl::Ptr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(m->ek_certificate.size())));
    if (!cert) return no(400, "no EK certificate");
    auto ek = attest::ek_from_certificate(cert.get());
    if (!ek) return no(400, ek.error().message);
    auto ak = attest::parse_public(m->ak_public);
    if (!ak) return no(400, ak.error().message);
    if (auto ok = attest::is_attestation_key(ak->area); !ok) return no(401, ok.error().message);
    Pending pending;
    pending.node = m->node;
    pending.ak = *ak;
    pending.secret.resize(32);
    pending.nonce.resize(attest::kNonceSize);
    RAND_bytes(pending.secret.data(), 32);
    RAND_bytes(pending.nonce.data(), static_cast<int>(pending.nonce.size()));
    auto cred = attest::make_credential(*ek, ak->name, pending.secret);
    if (!cred) return no(500, cred.error().message);
    attest::ChallengeReply reply{pending.nonce, cred->id_object, cred->encrypted_secret, 60};
    std::lock_guard lock(mu_);
    seen_.ek_certificate = m->ek_certificate;
    pending_ = std::move(pending);
    return {200, attest::to_json(reply), attest::kJsonType};
  }

  Reply enroll(const httplib::Request& q) {
    auto m = attest::enroll_request_from_json(q.body);
    if (!m) return no(400, m.error().message);
    std::lock_guard lock(mu_);
    if (refuse_status_ != 0) {
      int status = std::exchange(refuse_status_, 0);
      return no(status, refuse_line_);
    }
    if (!pending_ || m->nonce != pending_->nonce || m->node != pending_->node) {
      return no(401, "unknown nonce");
    }
    Pending p = std::move(*pending_);
    pending_.reset();
    if (m->secret != p.secret) return no(401, "the secret does not match");
    auto key = attest::parse_public(m->key_public);
    if (!key) return no(400, key.error().message);
    if (auto ok = attest::is_certifiable_key(key->area); !ok) return no(403, ok.error().message);
    auto ok = attest::verify_certify(m->certify_info, m->certify_signature, p.ak, *key,
                                     attest::qualifying_data(p.nonce, m->csr));
    if (!ok) return no(401, ok.error().message);
    const unsigned char* der = m->csr.data();
    ossl::Ptr<X509_REQ> csr(d2i_X509_REQ(nullptr, &der, static_cast<long>(m->csr.size())));
    auto tpm_key = attest::public_key(key->area);
    if (!csr || !tpm_key || EVP_PKEY_eq(X509_REQ_get0_pubkey(csr.get()), tpm_key->get()) != 1) {
      return no(403, "the request is not for the certified key");
    }
    auto cert =
        certificate("system:node:" + p.node, X509_REQ_get0_pubkey(csr.get()), ca_cert_, ca_key_,
                    NID_client_auth, {}, {{"O", "system:nodes"}, {"CN", "system:node:" + p.node}});
    ossl::Ptr<X509> peer(SSL_get1_peer_certificate(q.ssl));
    seen_.peer = std::move(peer);
    ++seen_.enrolled;
    auto body = est::certs_only_body({cert.get()});
    if (!body) return no(500, body.error().message);
    return {200, *body, est::kCertsOnlyType};
  }

  struct Pending {
    std::string node;
    attest::TpmPublic ak;
    Bytes secret, nonce;
  };

  X509* ca_cert_;
  EVP_PKEY* ca_key_;
  httplib::SSLServer server_;
  std::mutex mu_;
  std::optional<Pending> pending_;
  Seen seen_;
  int refuse_status_ = 0;
  std::string refuse_line_;
  std::optional<ServerThread> thread_;  // last: the server stops before the rest goes
};

std::string text_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Outcome {
  int status = -1;
  std::string out, err;
};

class NodeAttestFlow : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_key_ = software_key();
    ca_cert_ = certificate("node-attest CA", ca_key_.get(), nullptr, ca_key_.get());
    server_key_ = software_key();
    server_cert_ = certificate("attest.test", server_key_.get(), ca_cert_.get(), ca_key_.get(),
                               NID_server_auth, {{ca::SanType::ip, "127.0.0.1"}});
    std::ofstream(ca_file_) << ca::cert_pem(ca_cert_.get());
    server_ = std::make_unique<AttestServer>(ca_cert_.get(), ca_key_.get(), server_cert_.get(),
                                             server_key_.get());
  }
  void TearDown() override {
    server_.reset();
    Outcome left = run(tpm_.tools_env() + "timeout 30 tpm2_getcap handles-transient");
    EXPECT_EQ(left.status, 0) << left.err;
    EXPECT_EQ(left.out, "") << "transient objects left in the TPM";
  }

  // A shell command's exit status, standard output and standard error.
  static Outcome run(const std::string& command) {
    Outcome r;
    const std::string err_file = "/tmp/hwca-node-attest-flow." + std::to_string(::getpid());
    FILE* p = ::popen((command + " 2>" + err_file).c_str(), "r");
    if (p == nullptr) return r;
    char buf[512];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
    int status = ::pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.err = text_of(err_file);
    std::remove(err_file.c_str());
    return r;
  }

  // hwca-node CMD ARGS with the server, CA, key and TPM of the test.
  Outcome node(const std::string& args) {
    return run("HWCA_TCTI='" + tpm_.tcti() + "' HWCA_NODE_STATS=1 " HWCA_NODE_BIN " " + args +
               " --server https://127.0.0.1:" + std::to_string(server_->port()) + " --ca-cert " +
               ca_file_ + " --key tpm2:file=" + key_file_);
  }
  Outcome enroll(const std::string& extra = "") {
    return node("enroll --attest --node-name worker-1 --cert-out " + cert_file_ + " " + extra);
  }

  // The SHA-256 of the SubjectPublicKeyInfo of the EK certificate the server saw.
  static std::string ek_sha256(const Bytes& der) { return ca::spki_sha256_of_cert(der); }

  static std::string key_pem_digest(const std::string& cert_path) {
    auto certs = ca::read_pem_certificates(cert_path);
    if (!certs) return "";
    return ca::spki_sha256(X509_get_X509_PUBKEY(certs->front().get()));
  }

  Swtpm tpm_;
  TempDir dir_{"hwca-node-attest"};
  std::string ca_file_ = dir_.file("ca.pem");
  std::string key_file_ = dir_.file("kubelet.tpmkey");
  std::string cert_file_ = dir_.file("kubelet.pem");
  ossl::Ptr<EVP_PKEY> ca_key_, server_key_;
  ossl::Ptr<X509> ca_cert_, server_cert_;
  std::unique_ptr<AttestServer> server_;
};

TEST_F(NodeAttestFlow, EnrollAttestProvesTheKeyAndSavesTheCertificate) {
  Outcome r = enroll();
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  AttestServer::Seen seen = server_->take();
  EXPECT_EQ(seen.enrolled, 1);
  EXPECT_FALSE(seen.peer) << "round 2 of a first enrollment came with a client certificate";
  const std::string sha = ek_sha256(seen.ek_certificate);
  ASSERT_EQ(sha.size(), 64u);
  EXPECT_NE(r.out.find("enrolled node 'worker-1'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(attested: EK sha256 " + sha.substr(0, 16) + "...)"), std::string::npos)
      << r.out;
  // The RSA EK by default: its certificate is NV 0x01c00002's, as ek show prints it.
  auto ek = tokens::tpm2::read_ek(tpm_.tcti(), tokens::tpm2::EkChoice::rsa);
  ASSERT_TRUE(ek) << ek.error().message;
  tokens::tpm2::TpmContext::close_all();
  EXPECT_EQ(seen.ek_certificate, ek->certificate);
  // The stats line for the benchmark: the time and the TPM commands.
  EXPECT_NE(r.err.find("hwca-node: stats: enroll --attest: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" TPM commands"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  std::printf("  %s", r.err.c_str());  // the figures, for docs/performance.md
  EXPECT_FALSE(key_pem_digest(cert_file_).empty());
}

TEST_F(NodeAttestFlow, EnrollAttestWithTheEccEkSendsItsCertificate) {
  Outcome r = enroll("--ek ecc");
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  auto ek = tokens::tpm2::read_ek(tpm_.tcti(), tokens::tpm2::EkChoice::ecc);
  ASSERT_TRUE(ek) << ek.error().message;
  tokens::tpm2::TpmContext::close_all();
  EXPECT_EQ(ek->kind, tokens::tpm2::EkKind::ecc_p384);
  EXPECT_EQ(server_->take().ek_certificate, ek->certificate);
}

TEST_F(NodeAttestFlow, ARefusalKeepsTheServersReasonAndItsKind) {
  server_->refuse_next(403, "node worker-1 is registered with another TPM");
  Outcome r = enroll();
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_EQ(r.err,
            "hwca-node: attested enrollment refused (403): node worker-1 is registered with "
            "another TPM\n");
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(std::ifstream(cert_file_).good()) << "a refused enrollment wrote a certificate";
  server_->refuse_next(503, "the CA cannot issue now; retry later");
  r = enroll();
  EXPECT_EQ(r.status, 5) << r.err;
  server_->refuse_next(401, "the secret does not match");
  r = enroll();
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_NE(r.err.find("refused (401): the secret does not match"), std::string::npos) << r.err;
}

TEST_F(NodeAttestFlow, RenewNewKeyAttestsTheNewKeyOverMutualTls) {
  Outcome first = enroll();
  ASSERT_EQ(first.status, 0) << first.err;
  auto old_cert = ca::read_pem_certificates(cert_file_);
  ASSERT_TRUE(old_cert);
  const std::string old_key = text_of(key_file_);
  const std::string old_digest = key_pem_digest(cert_file_);
  server_->take();

  // Refused: the old key and certificate stay, the staged key is removed.
  server_->refuse_next(403, "no");
  Outcome refused = node("renew --new-key --cert " + cert_file_);
  EXPECT_EQ(refused.status, 2) << refused.err;
  EXPECT_EQ(text_of(key_file_), old_key);
  EXPECT_EQ(key_pem_digest(cert_file_), old_digest);
  EXPECT_FALSE(std::ifstream(dir_.file(".kubelet.tpmkey.new")).good()) << "staged key left";

  Outcome r = node("renew --new-key --cert " + cert_file_);
  ASSERT_EQ(r.status, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("renewed node 'worker-1'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(attested: EK sha256 "), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("hwca-node: stats: renew --new-key: "), std::string::npos) << r.err;
  AttestServer::Seen seen = server_->take();
  ASSERT_TRUE(seen.peer) << "the rounds did not come over mutual TLS";
  EXPECT_EQ(X509_cmp(seen.peer.get(), old_cert->front().get()), 0)
      << "the client certificate was not the node's current one";
  EXPECT_NE(text_of(key_file_), old_key) << "the key file was not replaced";
  EXPECT_NE(key_pem_digest(cert_file_), old_digest) << "the certificate is for the old key";
  EXPECT_FALSE(std::ifstream(dir_.file(".kubelet.tpmkey.new")).good()) << "staged key left";
}

}  // namespace
}  // namespace hwca::test
