#include "node/attest_client.hpp"

#include "node/tls_client.hpp"

namespace hwca::node {

Result<std::string> AttestClient::post(const char* path, const std::string& what,
                                       const std::string& body) {
  auto cli = make_client(endpoint_, options_);
  if (!cli) return tl::unexpected(cli.error());
  auto res = (*cli)->Post(path, body, attest::kJsonType);
  if (!res) return tl::unexpected(transport_error(endpoint_, res.error(), **cli));
  if (res->status != 200) return tl::unexpected(refusal(what, *res));
  return std::move(res->body);
}

Result<attest::ChallengeReply> AttestClient::challenge(const attest::ChallengeRequest& request) {
  auto body = post(attest::kChallengePath, "attestation challenge", attest::to_json(request));
  if (!body) return tl::unexpected(body.error());
  auto reply = attest::challenge_reply_from_json(*body);
  if (!reply)
    return fail(ErrorKind::usage, "attestation challenge reply: " + reply.error().message);
  return std::move(*reply);
}

Result<ossl::Ptr<X509>> AttestClient::enroll(const attest::EnrollRequest& request) {
  auto body = post(attest::kEnrollPath, "attested enrollment", attest::to_json(request));
  if (!body) return tl::unexpected(body.error());
  return issued_certificate(*body, "attested enrollment");
}

}  // namespace hwca::node
