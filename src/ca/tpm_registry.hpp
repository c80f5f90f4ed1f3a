// Nodes' TPMs, for enrollment by attestation: the endorsement key (EK) registered for each
// node ('hwca node register', 'hwca node import'), kept as the SHA-256 of its
// SubjectPublicKeyInfo DER, and the EK roots an EK certificate must chain to when any is
// set ('hwca ek-roots add'). A node has at most one TPM, and an EK belongs to at most one
// node.
//
// This is the interface; SqliteIssuanceStore implements it in the home's issuance database
// (schema version 4; version 5 adds the registered addresses), and so does PgIssuanceStore.
// Every write is durable when it returns; a database older than version 4 opened read-only
// reads as empty, one of version 4 as registrations without addresses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace hwca::ca {

struct NodeTpm {
  std::string node;             // valid_node_name()
  std::string ek_sha256;        // SHA-256 of the EK's SubjectPublicKeyInfo DER, 64 lower-case hex
  std::string ek_kind;          // "certificate" or "public-key": what was registered
  std::vector<uint8_t> ek_der;  // the EK certificate DER, or the SPKI DER
  int64_t registered_at = 0;    // Unix seconds
  std::string registered_by;    // "cli:uid=0"
  // IP addresses, canonical text ("10.0.0.5", "fd00::5"), 'hwca node register --ip': what
  // the node's kubelet-serving certificates may name (schema version 5; none before).
  std::vector<std::string> addresses;

  bool operator==(const NodeTpm&) const = default;
};

struct EkRoot {
  std::string sha256;   // SHA-256 of the certificate DER, 64 lower-case hex
  std::string subject;  // one-line text
  bool anchor = true;   // self-signed: a trust anchor; else an intermediate (untrusted)
  std::vector<uint8_t> der;
  int64_t added_at = 0;  // Unix seconds
  std::string added_by;  // "cli:uid=0"

  bool operator==(const EkRoot&) const = default;
};

inline constexpr const char* kEkKindCertificate = "certificate";
inline constexpr const char* kEkKindPublicKey = "public-key";

class TpmRegistry {
 public:
  virtual ~TpmRegistry() = default;

  // ErrorKind::conflict if the node already has a TPM, or this EK is registered for another
  // node; usage for a bad node name, digest, kind, address (not canonical IP text) or an
  // empty DER. Nothing stored then.
  virtual Status register_tpm(const NodeTpm& tpm) = 0;
  // All or nothing (one transaction): 'hwca node import'. The first bad or conflicting
  // entry (two for one node or one EK in the batch included) fails the whole batch.
  virtual Status register_tpms(const std::vector<NodeTpm>& tpms) = 0;
  // not_found if the node has no TPM.
  virtual Status unregister_tpm(const std::string& node) = 0;
  virtual Result<std::optional<NodeTpm>> tpm(const std::string& node) = 0;
  // Every registered TPM, by node name.
  virtual Result<std::vector<NodeTpm>> tpms() = 0;

  // conflict if a root with this SHA-256 is present.
  virtual Status add_ek_root(const EkRoot& root) = 0;
  // not_found if none has this SHA-256.
  virtual Status remove_ek_root(const std::string& sha256) = 0;
  // Every EK root, by the time it was added, then SHA-256.
  virtual Result<std::vector<EkRoot>> ek_roots() = 0;
};

}  // namespace hwca::ca
