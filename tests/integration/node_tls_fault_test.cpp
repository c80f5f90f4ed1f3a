// hwca-node's EST client with its key in a TPM (a swtpm of the test's own): the key signs
// the client's CertificateVerify in the TLS handshake through the hwca provider. A TPM gone
// by then fails the handshake as a device error naming the TPM (hwca-node exits 5, as
// docs/cli.md says), not as a network one (7); with the TPM up the same set-up succeeds
// and the server sees the client certificate. A TPM gone before the request is signed is a
// device error too.
//
// A program of its own: cpp-httplib makes its SSL_CTX in OpenSSL's default library context,
// so the TPM key must be loaded there (CryptoContext::Scope::process_default), and that
// context can be taken once per process (hwca_integration_tests takes it for the EST
// server's tests). The server is cpp-httplib's SSLServer on 127.0.0.1, which requires a
// client certificate from a software CA; the node's certificate is issued by that CA.
#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/ssl.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>
#include <optional>

#include "ca/certificate_builder.hpp"
#include "ca/crypto_context.hpp"
#include "est/est_codec.hpp"
#include "node/est_client.hpp"
#include "node/node_identity.hpp"
#include "support/scoped_env.hpp"
#include "support/server_thread.hpp"
#include "support/swtpm.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"
#include "support/test_csr.hpp"
#include "tokens/tpm2/tcti.hpp"
#include "tokens/tpm2/tpm_context.hpp"

namespace hwca::test {

// The process's one default-context CryptoContext, made by main().
const ca::CryptoContext* g_crypto = nullptr;

namespace {

// An EST server on 127.0.0.1 (a free port) that requires a client certificate issued by the
// test's CA; simpleenroll answers with that certificate and remembers it.
class MutualTlsServer {
 public:
  MutualTlsServer(X509* ca_cert, X509* cert, EVP_PKEY* key) : server_(cert, key, trust(ca_cert)) {
    if (!server_.is_valid()) throw std::runtime_error("SSLServer: " + ossl::take_errors());
    server_.Post("/.well-known/est/simpleenroll",
                 [this](const httplib::Request& req, httplib::Response& res) {
                   ossl::Ptr<X509> peer(SSL_get1_peer_certificate(req.ssl));
                   auto body = est::certs_only_body({peer.get()});
                   std::lock_guard lock(mu_);
                   if (!peer || !body) {
                     res.status = 500;
                     return;
                   }
                   res.set_content(*body, "application/pkcs7-mime; smime-type=certs-only");
                   peers_.push_back(std::move(peer));
                 });
    // Bound and listening before the thread starts: a connection waits in the backlog.
    thread_.emplace(server_);
  }

  int port() const { return thread_->port(); }
  // The client certificates the server saw in requests since the last call.
  std::vector<ossl::Ptr<X509>> take_peers() {
    std::lock_guard lock(mu_);
    return std::move(peers_);
  }

 private:
  static X509_STORE* trust(X509* ca_cert) {
    X509_STORE* store = X509_STORE_new();  // the server's SSL_CTX takes it
    if (store == nullptr || X509_STORE_add_cert(store, ca_cert) != 1) {
      throw std::runtime_error("cannot make the server's trust store");
    }
    return store;
  }

  httplib::SSLServer server_;
  std::mutex mu_;
  std::vector<ossl::Ptr<X509>> peers_;
  std::optional<ServerThread> thread_;  // last: the server stops before the rest goes
};

// A node with its key in a fresh swtpm (HWCA_TCTI), a CA with a software key, and an EST
// server over mutual TLS; enroll() asks it as hwca-node does.
class NodeTlsFault : public ::testing::Test {
 protected:
  void SetUp() override {
    bool created = false;
    auto key =
        node::load_or_create_key(*g_crypto, "tpm2:file=" + dir_.file("node.key"), {}, &created);
    ASSERT_TRUE(key) << key.error().message;
    ASSERT_TRUE(created);
    node_key_ = std::move(*key);
    ca_key_ = software_key();
    ca_cert_ = certificate("node-tls-fault CA", ca_key_.get(), nullptr, ca_key_.get());
    server_key_ = software_key();
    server_cert_ = certificate("est.test", server_key_.get(), ca_cert_.get(), ca_key_.get(),
                               NID_server_auth, {{ca::SanType::ip, "127.0.0.1"}});
    node_cert_ = certificate("system:node:tpm-node", node_key_.get(), ca_cert_.get(), ca_key_.get(),
                             NID_client_auth);
    std::ofstream(ca_file_) << ca::cert_pem(ca_cert_.get());
    server_ =
        std::make_unique<MutualTlsServer>(ca_cert_.get(), server_cert_.get(), server_key_.get());
  }
  void TearDown() override {
    server_.reset();
    node_key_.reset();
    tokens::tpm2::TpmContext::close_all();
    ERR_clear_error();
  }

  Result<ossl::Ptr<X509>> enroll() {
    node::ClientOptions options;
    options.ca_file = ca_file_;
    options.client_cert = node_cert_.get();
    options.client_key = node_key_.get();
    options.timeout_s = 20;
    node::EstClient client({"127.0.0.1", server_->port(), ""}, options);
    // Not read by this server: the handshake is what is tested.
    return client.enroll("not a request", /*reenroll=*/false);
  }

  Swtpm tpm_;
  ScopedEnv tcti_{tokens::tpm2::kTctiEnv, tpm_.tcti()};
  TempDir dir_{"hwca-node-tls"};
  std::string ca_file_ = dir_.file("ca.pem");
  ossl::Ptr<EVP_PKEY> node_key_, ca_key_, server_key_;
  ossl::Ptr<X509> ca_cert_, server_cert_, node_cert_;
  std::unique_ptr<MutualTlsServer> server_;
};

TEST_F(NodeTlsFault, TheHandshakeSignsInTheTpmAndTheServerSeesTheNodeCertificate) {
  auto issued = enroll();
  ASSERT_TRUE(issued) << issued.error().message;
  EXPECT_EQ(X509_cmp(issued->get(), node_cert_.get()), 0);
  auto peers = server_->take_peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(X509_cmp(peers[0].get(), node_cert_.get()), 0);
}

TEST_F(NodeTlsFault, ATpmGoneDuringTheHandshakeIsADeviceErrorNamingIt) {
  tpm_.stop();
  auto issued = enroll();
  ASSERT_FALSE(issued) << "enrolled although the TPM that holds the client key is stopped";
  EXPECT_EQ(issued.error().kind, ErrorKind::device) << issued.error().message;
  EXPECT_NE(issued.error().message.find("the TLS handshake failed"), std::string::npos)
      << issued.error().message;
  EXPECT_NE(issued.error().message.find(tpm_.tcti()), std::string::npos) << issued.error().message;
  EXPECT_TRUE(server_->take_peers().empty());
}

// The request's signature is the TPM's first work in a renewal: a TPM gone then is a device
// error naming it (hwca-node exits 5), as in the handshake. It was `internal` (exit 1),
// found by cli.node_swtpm_disk (the TPM gone after the 4th command of a renewal).
TEST_F(NodeTlsFault, ATpmGoneBeforeTheRequestIsSignedIsADeviceErrorNamingIt) {
  auto csr = node::node_request(g_crypto->libctx(), node_key_.get(), "tpm-node", {});
  ASSERT_TRUE(csr) << "with the TPM up: " << csr.error().message;
  tpm_.stop();
  csr = node::node_request(g_crypto->libctx(), node_key_.get(), "tpm-node", {});
  ASSERT_FALSE(csr) << "signed a request although the TPM that holds the key is stopped";
  EXPECT_EQ(csr.error().kind, ErrorKind::device) << csr.error().message;
  EXPECT_NE(csr.error().message.find("cannot sign the request"), std::string::npos)
      << csr.error().message;
  EXPECT_NE(csr.error().message.find(tpm_.tcti()), std::string::npos) << csr.error().message;
}

}  // namespace

}  // namespace hwca::test

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // as hwca-node does: a peer that hangs up is an error
  ::testing::InitGoogleTest(&argc, argv);
  auto crypto = hwca::ca::CryptoContext::create(hwca::ca::CryptoContext::Scope::process_default);
  if (!crypto) {
    std::fprintf(stderr, "process_default CryptoContext: %s\n", crypto.error().message.c_str());
    return 1;
  }
  hwca::test::g_crypto = crypto->get();
  return RUN_ALL_TESTS();
}
