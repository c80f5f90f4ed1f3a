// Renewal and the node's key, on the in-process EST server (est_server_fixture.hpp):
//   - a renewal (a kubelet client certificate asked for with a client certificate, through
//     simplereenroll or simpleenroll) is for the key of that client certificate, unless the
//     CA's config says renewalKeyChange: true; the issuance database records which
//     certificate each renewal came from;
//   - a key revoked for keyCompromise is never certified again, for any node, through EST
//     (403, reason "compromised", the bootstrap token given back) or the issuer itself.
#include "ca/spki.hpp"
#include "est_server_fixture.hpp"

namespace hwca::test {
namespace {

std::string key_digest(EVP_PKEY* key) {
  auto req = simple_csr(key, "k");
  return ca::spki_sha256(X509_REQ_get_X509_PUBKEY(req.get()));
}

// The est.rejected lines' reasons.
std::vector<std::string> reasons(const std::vector<nlohmann::json>& rejected) {
  std::vector<std::string> out;
  for (const auto& r : rejected) out.push_back(r.value("reason", ""));
  return out;
}

TEST_F(EstServerTest, ARenewalKeepsTheKeyOfItsClientCertificate) {
  start();
  auto cli = client();
  auto key1 = software_key();
  auto cert1 = first_certificate(*cli, "node-r", key1.get());
  const std::string serial1 = serial_of(cert1.get());
  const X509_NAME* subject = X509_get_subject_name(cert1.get());
  const size_t lines = audit_lines();
  const auto batches = store_->batches().size();

  // A fresh software key, over simplereenroll or simpleenroll with the client certificate:
  // 403 "key", nothing issued, the node told how to change its key.
  auto key2 = software_key();
  auto renewer = client(cert1.get(), key1.get());
  for (const char* path : {kReenroll, kEnroll}) {
    SCOPED_TRACE(path);
    auto a = answer_of(renewer->Post(path, request_body(key2.get(), subject), est::kPkcs10Type));
    EXPECT_EQ(a.status, 403) << a.body;
    EXPECT_NE(a.body.find("a renewal must be for the key of the client certificate"),
              std::string::npos)
        << a.body;
    EXPECT_NE(a.body.find("hwca-node enroll --new-key"), std::string::npos) << a.body;
    EXPECT_EQ(std::count(a.body.begin(), a.body.end(), '\n'), 1) << a.body;
  }
  EXPECT_EQ(store_->batches().size(), batches) << "a certificate for the new key was recorded";
  auto refused = audit_view(lines);
  EXPECT_EQ(refused.events["cert.issued"], 0);
  EXPECT_EQ(reasons(refused.rejected), (std::vector<std::string>{"key", "key"}));
  EXPECT_EQ(sample(metrics_.text(), rejected("key")), 2) << metrics_.text();

  // The same key: renewed, and the database knows from which certificate.
  auto same =
      answer_of(renewer->Post(kReenroll, request_body(key1.get(), subject), est::kPkcs10Type));
  ASSERT_EQ(same.status, 200) << same.body;
  ASSERT_EQ(same.certs.size(), 1u);
  expect_node_certificate(same.certs.front().get(), "node-r", key1.get());
  const std::string serial2 = serial_of(same.certs.front().get());
  auto row2 = db_->find(kCa, serial2);
  ASSERT_TRUE(row2 && *row2);
  EXPECT_EQ((*row2)->renewed_from, serial1);
  EXPECT_EQ((*row2)->spki_sha256, key_digest(key1.get()));
  auto row1 = db_->find(kCa, serial1);
  ASSERT_TRUE(row1 && *row1);
  EXPECT_EQ((*row1)->renewed_from, "") << "a first enrollment is no renewal";
  EXPECT_EQ((*row1)->spki_sha256, key_digest(key1.get()));

  // renewalKeyChange: true in the CA's config lets a renewal change the key; still recorded.
  ca::Config config = home_->config();
  config.cas.at(kCa).renewal_key_change = true;
  ASSERT_TRUE(home_->save(config));
  auto reread = ca::Home::open(home_->dir(), false);
  ASSERT_TRUE(reread) << reread.error().message;
  EXPECT_TRUE(reread->config().cas.at(kCa).renewal_key_change) << "not kept in config.yaml";
  auto renewer2 = client(same.certs.front().get(), key1.get());
  auto changed =
      answer_of(renewer2->Post(kReenroll, request_body(key2.get(), subject), est::kPkcs10Type));
  ASSERT_EQ(changed.status, 200) << changed.body;
  ASSERT_EQ(changed.certs.size(), 1u);
  expect_node_certificate(changed.certs.front().get(), "node-r", key2.get());
  const std::string serial3 = serial_of(changed.certs.front().get());
  auto row3 = db_->find(kCa, serial3);
  ASSERT_TRUE(row3 && *row3);
  EXPECT_EQ((*row3)->renewed_from, serial2);
  EXPECT_EQ((*row3)->spki_sha256, key_digest(key2.get()));
  auto from2 = db_->renewals(kCa, serial2);
  ASSERT_TRUE(from2) << from2.error().message;
  ASSERT_EQ(from2->size(), 1u);
  EXPECT_EQ(from2->front().serial, serial3);

  // Revoking the first certificate with its renewals revokes the whole lineage.
  auto revoked = db_->revoke_with_renewals(kCa, serial1, 1, std::time(nullptr));
  ASSERT_TRUE(revoked) << revoked.error().message;
  ASSERT_EQ(revoked->size(), 3u);
  EXPECT_EQ(revoked->back().serial, serial3);
  auto renewer3 = client(changed.certs.front().get(), key2.get());
  auto after =
      answer_of(renewer3->Post(kReenroll, request_body(key2.get(), subject), est::kPkcs10Type));
  EXPECT_EQ(after.status, 401) << after.body;
  EXPECT_NE(after.body.find("is revoked"), std::string::npos) << after.body;
}

TEST_F(EstServerTest, AKeyRevokedForKeyCompromiseIsNeverCertifiedAgain) {
  start();
  auto cli = client();
  auto key1 = software_key();
  auto cert1 = first_certificate(*cli, "node-k", key1.get());
  const std::string serial1 = serial_of(cert1.get());

  // Revoked for another reason: the key may be certified again.
  ASSERT_TRUE(db_->revoke(kCa, serial1, 4, std::time(nullptr)));  // superseded
  auto cert2 = first_certificate(*cli, "node-k", key1.get());
  const std::string serial2 = serial_of(cert2.get());
  ASSERT_TRUE(db_->revoke(kCa, serial2, 1, std::time(nullptr)));  // keyCompromise
  const size_t lines = audit_lines();
  const auto batches = store_->batches().size();

  // The same node with a new token, and another node: 403 "compromised", the tokens kept.
  const std::string token = add_token("node-k");
  const std::string other = add_token("node-o");
  auto again = answer_of(cli->Post(kEnroll, basic("node-k", token),
                                   request_body(key1.get(), node_subject("node-k").get()),
                                   est::kPkcs10Type));
  EXPECT_EQ(again.status, 403) << again.body;
  EXPECT_NE(again.body.find("revoked for keyCompromise"), std::string::npos) << again.body;
  EXPECT_NE(again.body.find(key_digest(key1.get())), std::string::npos) << again.body;
  auto elsewhere = answer_of(cli->Post(kEnroll, basic("node-o", other),
                                       request_body(key1.get(), node_subject("node-o").get()),
                                       est::kPkcs10Type));
  EXPECT_EQ(elsewhere.status, 403) << elsewhere.body;
  EXPECT_EQ(store_->batches().size(), batches);
  auto view = audit_view(lines);
  EXPECT_EQ(view.events["cert.issued"], 0);
  EXPECT_EQ(reasons(view.rejected), (std::vector<std::string>{"compromised", "compromised"}));
  EXPECT_EQ(sample(metrics_.text(), rejected("compromised")), 2) << metrics_.text();
  auto tokens = db_->tokens();
  ASSERT_TRUE(tokens);
  for (const auto& t : *tokens) {
    if (t.node == "node-o" || t.id == token.substr(0, ca::kTokenIdLength)) {
      EXPECT_EQ(t.used_at, 0) << "token " << t.id << " was spent on a refusal";
    }
  }

  // The issuer refuses it too, whoever asks (hwca sign): a usage error naming the reason.
  ca::SignRequest request;
  request.csr = csr_der(simple_csr(key1.get(), "client.example").get());
  request.source = "req.der";
  request.profile = "client";
  request.requester = "test:est";
  auto signed_ = issuer_->issue(request);
  ASSERT_FALSE(signed_);
  EXPECT_EQ(signed_.error().kind, ErrorKind::usage);
  EXPECT_NE(signed_.error().message.find("revoked for keyCompromise"), std::string::npos)
      << signed_.error().message;

  // A new key, with the same token: enrolled.
  auto key2 = software_key();
  auto fresh = answer_of(cli->Post(kEnroll, basic("node-k", token),
                                   request_body(key2.get(), node_subject("node-k").get()),
                                   est::kPkcs10Type));
  ASSERT_EQ(fresh.status, 200) << fresh.body;
  ASSERT_EQ(fresh.certs.size(), 1u);
  expect_node_certificate(fresh.certs.front().get(), "node-k", key2.get());
}

}  // namespace
}  // namespace hwca::test
