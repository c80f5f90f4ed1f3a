// What the EST server answers, apart from HTTP and TLS (est_server.hpp carries it):
//
//   cacerts                      the CA's certificate and its chain (no authentication)
//   csrattrs                     what a request should hold (ECDSA P-256 with SHA-256)
//   simpleenroll                 a node's first certificate: HTTP Basic with a bootstrap
//                                token (user = node name), or the node's current client
//                                certificate over mutual TLS
//   simplereenroll               renewal: the node's current client certificate only; the
//                                request's subject must equal the certificate's
//
// A kubelet-client request authenticated by a client certificate (either endpoint) is a
// renewal: it must be for the certificate's key unless the CA's config has
// renewalKeyChange (403 "key"), and the new certificate records the old one's serial
// (renewed_from). A key revoked for keyCompromise is refused for anyone (403 "compromised").
//
// A client certificate authenticates a node only if this CA issued it under
// kubelet-client, the issuance database has it and it is not revoked (TLS already checked
// its chain and dates). Every request then goes through node_policy.hpp, then the issuer
// (profile = label), then group commit. Every refusal is counted (metrics, by reason).
// A refusal of a node that authenticated is audited on its own line ("est.rejected", or
// "cert.rejected" from the issuer); the refusals of requests that never authenticated (no
// credential, or one that does not hold, or a body refused before the credential is looked
// at) and those during an outage are summed up instead: one "est.rejected.summary" line per
// minute at most (rejection_summary.hpp), and one when the service stops, so that a client
// without credentials cannot make the log grow faster than that.
//
// An outage (is_outage(): the CA key's token, the issuance database, the audit log, the
// disk) is answered 503 with Retry-After and a short message; its cause and what the
// operator should do go to the service's log (stderr), never to the client. Client text
// that reaches an audit line or a reply is cut to a short bound (bounded()).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ca/audit_trail.hpp"
#include "ca/issuer.hpp"
#include "ca/node_registry.hpp"
#include "ca/tpm_registry.hpp"
#include "common/ossl.hpp"
#include "common/secure_string.hpp"
#include "est/challenge_store.hpp"
#include "est/group_commit.hpp"
#include "est/metrics.hpp"
#include "est/node_policy.hpp"
#include "est/rejection_summary.hpp"

namespace hwca::est {

struct Reply {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct Caller {
  std::string address;         // "127.0.0.1:51234", for the audit log
  const X509* peer = nullptr;  // TLS client certificate, chain already verified; or none
  bool has_basic = false;
  std::string basic_user;
  SecureString basic_password;
};

enum class Operation { enroll, reenroll };

// TPM attestation (est_service_attest.cpp, docs/attestation.md).
struct AttestationOptions {
  // Refuse bootstrap tokens for every node: attestation (or a client certificate) only.
  // A node with a registered TPM is refused its bootstrap tokens in any case.
  bool require = false;
  std::chrono::seconds nonce_ttl{60};  // how long a challenge may wait for its answer
  size_t challenges_per_node = 4;      // open at once; a new one pushes the oldest out
};

class EstService {
 public:
  // One line for the operator (no newline).
  using Log = std::function<void(const std::string& line)>;

  EstService(ca::Issuer& issuer, ca::IssuanceStore& store, ca::NodeRegistry& registry,
             ca::AuditTrail& audit, Metrics& metrics, OSSL_LIB_CTX* libctx,
             std::vector<const X509*> chain);
  ~EstService();  // flush()
  EstService(const EstService&) = delete;
  EstService& operator=(const EstService&) = delete;

  // Where operator messages go; default: standard error, "hwca serve: <line>". Set it
  // before serving.
  void set_log(Log log);
  // Audit the summary of the refusals not yet audited (the server calls it when it stops).
  void flush();
  // /healthz: "ok", or 503 when the issuance database cannot be read.
  Reply healthz();

  Reply cacerts() const;
  Reply csrattrs(const std::string& label) const;
  Reply enroll(Operation op, const std::string& label, std::string_view body,
               const std::string& content_type, Caller& caller);

  // Serve the attestation rounds with this registry of node TPMs (and its EK roots); until
  // then they answer 404. Set it before serving.
  void enable_attestation(ca::TpmRegistry& tpms, AttestationOptions options);
  // Round 1: the registered EK and the AK's attributes are checked; the challenge is
  // MakeCredential(EK, Name(AK), secret) with a single-use nonce.
  Reply attest_challenge(std::string_view body, const std::string& content_type, Caller& caller);
  // Round 2: the secret, the key's attributes, its TPM2_Certify by the AK over
  // SHA-256(nonce || CSR), the CSR's key; then issued as simpleenroll issues.
  Reply attest_enroll(std::string_view body, const std::string& content_type, Caller& caller);

 private:
  // An established node: who it is and how it proved it.
  struct Node {
    std::string name;
    std::vector<std::string> addresses;
    std::string via;       // "bootstrap token abc123", "client certificate <serial>", ...
    std::string token_id;  // the token claimed for this request, given back if it fails
  };
  // The IP addresses the node's kubelet-serving certificates may name: those of its TPM's
  // registration ('hwca node register --ip') if it has one, else those of the last bootstrap
  // token it spent ('hwca bootstrap create --ip').
  Result<std::vector<std::string>> registered_addresses(const std::string& name);
  // A node that authenticated (or claimed a name) is refused: one audit line.
  Reply refuse(int status, const std::string& reason, const std::string& message,
               const std::string& label, const Caller& caller, const std::string& node);
  // A request that never authenticated is refused: counted and summed up.
  Reply refuse_unauthenticated(int status, const std::string& reason, const std::string& message,
                               const Caller& caller);
  // A failure of the CA's own (est_service_refusals.cpp): an outage is 503 with
  // Retry-After, anything else 500; the cause goes to the log, not to the client.
  Reply failed(const Error& e, const Caller& caller, const std::string& node);
  void count_summarised(const std::string& reason, const Caller& caller);
  void write_summary(const RejectionSummary::Summary& summary);
  void audit_failed(const Error& e, const std::string& what);
  Result<Node> node_from_certificate(const X509* peer);
  // What both attestation rounds refuse before reading the body: 404 when attestation is
  // not served, 415 a body that is not JSON (`what`: "challenge request").
  std::optional<Reply> attest_refused_early(const std::string& content_type, const Caller& caller,
                                            const char* what);
  Reply issue(Node& node, X509_REQ* req, NodeProfile profile, const std::string& label,
              Caller& caller, std::optional<ca::SignRequest::Attestation> attestation);

  ca::Issuer& issuer_;
  ca::IssuanceStore& store_;
  ca::NodeRegistry& registry_;
  ca::AuditTrail& audit_;
  Metrics& metrics_;
  OSSL_LIB_CTX* libctx_;
  GroupCommit group_;
  std::string cacerts_body_;
  RejectionSummary summary_;
  Log log_;
  ca::TpmRegistry* tpms_ = nullptr;  // attestation served when set
  AttestationOptions attest_options_;
  std::unique_ptr<ChallengeStore> challenges_;
};

}  // namespace hwca::est
