// The node agent's client of the attestation rounds (src/attest/protocol.hpp) on the EST
// server's listener: the same TLS settings, server check, optional client certificate and
// error mapping as EstClient (node/tls_client.hpp).
#pragma once

#include "attest/protocol.hpp"
#include "common/ossl.hpp"
#include "common/result.hpp"
#include "node/est_client.hpp"

namespace hwca::node {

class AttestClient {
 public:
  // The endpoint's host and port (an EST label is not used).
  AttestClient(EstEndpoint endpoint, ClientOptions options)
      : endpoint_(std::move(endpoint)), options_(std::move(options)) {}

  // Round 1: POST /attest/v1/challenge. A reply that is not a challenge is usage.
  Result<attest::ChallengeReply> challenge(const attest::ChallengeRequest& request);
  // Round 2: POST /attest/v1/enroll; the issued certificate (as simpleenroll answers).
  // Refusals as EstClient::enroll: 401 auth, 400 and 403 usage, 404 not_found, 5xx device,
  // the server's one-line reason kept.
  Result<ossl::Ptr<X509>> enroll(const attest::EnrollRequest& request);

 private:
  Result<std::string> post(const char* path, const std::string& what, const std::string& body);

  EstEndpoint endpoint_;
  ClientOptions options_;
};

}  // namespace hwca::node
