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
// (profile = label), then group commit. Every refusal is audited ("est.rejected") with its
// reason, and counted.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ca/audit_log.hpp"
#include "ca/issuer.hpp"
#include "ca/node_registry.hpp"
#include "common/ossl.hpp"
#include "common/secure_string.hpp"
#include "est/group_commit.hpp"
#include "est/metrics.hpp"

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

class EstService {
 public:
  EstService(ca::Issuer& issuer, ca::IssuanceStore& store, ca::NodeRegistry& registry,
             ca::AuditLog& audit, Metrics& metrics, OSSL_LIB_CTX* libctx,
             std::vector<const X509*> chain);

  Reply cacerts() const;
  Reply csrattrs(const std::string& label) const;
  Reply enroll(Operation op, const std::string& label, std::string_view body,
               const std::string& content_type, Caller& caller);

 private:
  struct Node;
  Reply refuse(int status, const std::string& reason, const std::string& message,
               const std::string& label, const Caller& caller, const std::string& node);
  Result<Node> node_from_certificate(const X509* peer);

  ca::Issuer& issuer_;
  ca::IssuanceStore& store_;
  ca::NodeRegistry& registry_;
  ca::AuditLog& audit_;
  Metrics& metrics_;
  OSSL_LIB_CTX* libctx_;
  GroupCommit group_;
  std::string cacerts_body_;
};

}  // namespace hwca::est
