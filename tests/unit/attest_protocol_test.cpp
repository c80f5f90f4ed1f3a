// Unit tests for attest/protocol.hpp: the two rounds' JSON both ways, and what decoding
// refuses.
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <nlohmann/json.hpp>

#include <string>

#include "attest/protocol.hpp"

namespace hwca::attest {
namespace {

Bytes bytes(size_t n, uint8_t fill) { return Bytes(n, fill); }

EnrollRequest sample_enroll() {
  EnrollRequest m;
  m.node = "worker-1";
  m.nonce = bytes(kNonceSize, 7);
  m.secret = bytes(32, 1);
  m.csr = bytes(300, 2);
  m.key_public = bytes(90, 3);
  m.certify_info = bytes(150, 4);
  m.certify_signature = bytes(72, 5);
  return m;
}

TEST(AttestProtocol, MessagesRoundTrip) {
  ChallengeRequest c{"worker-1", bytes(900, 9), {}, bytes(90, 8)};
  auto c2 = challenge_request_from_json(to_json(c));
  ASSERT_TRUE(c2) << c2.error().message;
  EXPECT_EQ(c2->node, c.node);
  EXPECT_EQ(c2->ek_certificate, c.ek_certificate);
  EXPECT_TRUE(c2->ek_public.empty());
  EXPECT_EQ(c2->ak_public, c.ak_public);

  ChallengeReply r{bytes(kNonceSize, 1), bytes(70, 2), bytes(256, 3), 60};
  auto r2 = challenge_reply_from_json(to_json(r));
  ASSERT_TRUE(r2) << r2.error().message;
  EXPECT_EQ(r2->nonce, r.nonce);
  EXPECT_EQ(r2->credential_blob, r.credential_blob);
  EXPECT_EQ(r2->encrypted_secret, r.encrypted_secret);
  EXPECT_EQ(r2->expires_in, 60);

  auto e = sample_enroll();
  auto e2 = enroll_request_from_json(to_json(e));
  ASSERT_TRUE(e2) << e2.error().message;
  EXPECT_EQ(e2->node, e.node);
  EXPECT_EQ(e2->nonce, e.nonce);
  EXPECT_EQ(e2->secret, e.secret);
  EXPECT_EQ(e2->csr, e.csr);
  EXPECT_EQ(e2->key_public, e.key_public);
  EXPECT_EQ(e2->certify_info, e.certify_info);
  EXPECT_EQ(e2->certify_signature, e.certify_signature);
}

TEST(AttestProtocol, QualifyingDataIsSha256OfNonceThenRequest) {
  Bytes nonce = bytes(kNonceSize, 0xAB), csr = {1, 2, 3};
  Bytes joined = nonce;
  joined.insert(joined.end(), csr.begin(), csr.end());
  Bytes expected(SHA256_DIGEST_LENGTH);
  SHA256(joined.data(), joined.size(), expected.data());
  EXPECT_EQ(qualifying_data(nonce, csr), expected);
  EXPECT_NE(qualifying_data(csr, nonce), expected);
}

void expect_malformed(const Checked<EnrollRequest>& m, const std::string& mentions) {
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().reason, Reason::malformed);
  EXPECT_NE(m.error().message.find(mentions), std::string::npos) << m.error().message;
}

TEST(AttestProtocol, DecodingRefusesWhatIsNotTheMessage) {
  expect_malformed(enroll_request_from_json("not json"), "not a JSON object");
  expect_malformed(enroll_request_from_json("[1,2]"), "not a JSON object");
  expect_malformed(enroll_request_from_json("{}"), "'node'");

  nlohmann::json j = nlohmann::json::parse(to_json(sample_enroll()));
  auto with = [&](const char* field, nlohmann::json value) {
    auto copy = j;
    copy[field] = std::move(value);
    return enroll_request_from_json(copy.dump());
  };
  auto without = [&](const char* field) {
    auto copy = j;
    copy.erase(field);
    return enroll_request_from_json(copy.dump());
  };
  expect_malformed(without("certify_signature"), "'certify_signature'");
  expect_malformed(with("csr", 12), "'csr'");
  expect_malformed(with("csr", "%%%%"), "'csr'");
  expect_malformed(with("csr", ""), "'csr'");
  expect_malformed(with("node", ""), "'node'");
  expect_malformed(with("node", std::string(300, 'a')), "'node'");
  expect_malformed(with("nonce", "AAAA"), "'nonce'");  // 3 bytes
  expect_malformed(with("key_public", std::string(4000, 'A')), "'key_public'");
  // Unknown fields are left for later versions.
  EXPECT_TRUE(with("comment", "x"));

  auto no_ek = challenge_request_from_json(R"({"node":"n","ak_public":"AAAA"})");
  ASSERT_FALSE(no_ek);
  EXPECT_NE(no_ek.error().message.find("neither"), std::string::npos);
}

}  // namespace
}  // namespace hwca::attest
