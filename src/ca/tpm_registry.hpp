// PROVISIONAL: the interface of the node TPM registry as the registry work defines it
// (branch tpm-registry replaces this file).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace hwca::ca {

struct NodeTpm {
  std::string node;          // valid_node_name()
  std::string ek_sha256;     // SHA-256 of the EK's SubjectPublicKeyInfo DER, 64 lower-case hex
  std::string ek_kind;       // "certificate" or "public-key": what was registered
  std::vector<uint8_t> ek_der;  // the EK certificate DER, or the SPKI DER
  int64_t registered_at = 0;
  std::string registered_by;    // "cli:uid=0"
  bool operator==(const NodeTpm&) const = default;
};
struct EkRoot {
  std::string sha256;        // of the certificate DER, hex
  std::string subject;       // one-line text
  bool anchor = true;        // self-signed: trust anchor; else an intermediate
  std::vector<uint8_t> der;
  int64_t added_at = 0;
  std::string added_by;
};
class TpmRegistry {
 public:
  virtual ~TpmRegistry() = default;
  // conflict: the node already has a TPM, or this EK is registered for another node.
  virtual Status register_tpm(const NodeTpm& tpm) = 0;
  // All or nothing (one transaction): hwca node import.
  virtual Status register_tpms(const std::vector<NodeTpm>& tpms) = 0;
  virtual Status unregister_tpm(const std::string& node) = 0;    // not_found
  virtual Result<std::optional<NodeTpm>> tpm(const std::string& node) = 0;
  virtual Result<std::vector<NodeTpm>> tpms() = 0;                // by node name
  virtual Status add_ek_root(const EkRoot& root) = 0;             // conflict if present
  virtual Status remove_ek_root(const std::string& sha256) = 0;   // not_found
  virtual Result<std::vector<EkRoot>> ek_roots() = 0;
};

}  // namespace hwca::ca
