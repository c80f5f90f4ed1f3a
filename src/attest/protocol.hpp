// The attestation protocol's messages: two rounds of JSON (nlohmann-json) over the EST
// server's TLS listener, byte strings in standard padded base64. docs/attestation.md has
// the protocol in full.
//
//   POST /attest/v1/challenge  ChallengeRequest -> ChallengeReply (application/json)
//   POST /attest/v1/enroll     EnrollRequest    -> the certificate, exactly as simpleenroll
//                                                  answers (application/pkcs7-mime, base64)
//
// A refusal in either round is text/plain, one line, with the status simpleenroll would
// use (400 malformed, 401 not proven, 403 refused by policy, 503 the CA's outage).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "attest/refusal.hpp"
#include "attest/tpm_crypto.hpp"

namespace hwca::attest {

inline constexpr const char* kChallengePath = "/attest/v1/challenge";
inline constexpr const char* kEnrollPath = "/attest/v1/enroll";
inline constexpr const char* kJsonType = "application/json";
inline constexpr size_t kNonceSize = 32;

// Round 1, node to CA: who it is, its EK (the certificate from the TPM's NV, or the EK's
// TPM2B_PUBLIC, or both), and a new attestation key's TPM2B_PUBLIC.
struct ChallengeRequest {
  std::string node;
  Bytes ek_certificate;  // DER as read from NV (vendors' quirks allowed); may be empty
  Bytes ek_public;       // TPM2B_PUBLIC; may be empty (not both)
  Bytes ak_public;       // TPM2B_PUBLIC
};

// Round 1, CA to node: MakeCredential(EK, Name(AK), secret) and a single-use nonce that
// expires after expires_in seconds.
struct ChallengeReply {
  Bytes nonce;             // kNonceSize bytes
  Bytes credential_blob;   // TPM2B_ID_OBJECT
  Bytes encrypted_secret;  // TPM2B_ENCRYPTED_SECRET
  int64_t expires_in = 0;  // seconds
};

// Round 2, node to CA: the secret TPM2_ActivateCredential recovered, the request, the
// kubelet key's TPM2B_PUBLIC and TPM2_Certify of it by the AK, with qualifyingData =
// qualifying_data(nonce, csr).
struct EnrollRequest {
  std::string node;
  Bytes nonce;
  Bytes secret;
  Bytes csr;                // PKCS#10, DER
  Bytes key_public;         // TPM2B_PUBLIC of the key the request is for
  Bytes certify_info;       // TPMS_ATTEST, as TPM2_Certify returned it (certifyInfo)
  Bytes certify_signature;  // TPMT_SIGNATURE
};

// SHA-256(nonce || CSR DER): what the key's TPM2_Certify must carry as extraData.
Bytes qualifying_data(std::span<const uint8_t> nonce, std::span<const uint8_t> csr_der);

// JSON text of each message, and back. Decoding refuses (Reason::malformed, one line
// naming the field): text that is not a JSON object, a missing or mistyped field, base64
// that does not decode, a field over its size bound, a nonce that is not kNonceSize bytes,
// and a challenge request with no EK. Unknown fields are ignored (later versions may add).
std::string to_json(const ChallengeRequest& m);
std::string to_json(const ChallengeReply& m);
std::string to_json(const EnrollRequest& m);
Checked<ChallengeRequest> challenge_request_from_json(std::string_view text);
Checked<ChallengeReply> challenge_reply_from_json(std::string_view text);
Checked<EnrollRequest> enroll_request_from_json(std::string_view text);

}  // namespace hwca::attest
