// Nodes and their bootstrap tokens, for enrollment over EST (src/est). A node's first
// certificate is paid for with a bootstrap token that an operator made for that node
// ('hwca bootstrap create'): single-use, expiring, and stored only as the SHA-256 of its
// text. Spending it registers the node with the addresses the operator gave, which later
// bound what its serving certificates may name.
//
// This is the interface; SqliteIssuanceStore implements it in the home's issuance
// database (schema version 2), a PostgreSQL store will too.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace hwca::ca {

using Sha256 = std::array<unsigned char, 32>;

struct BootstrapToken {
  std::string id;                      // public part of the token (bootstrap_token.hpp)
  std::string node;                    // the node it is for
  std::vector<std::string> addresses;  // IP addresses, canonical text ("10.0.0.5", "fd00::5")
  int64_t created_at = 0;              // Unix seconds
  int64_t expires_at = 0;              // Unix seconds
  std::string created_by;              // "cli:uid=0"
  int64_t used_at = 0;                 // 0: never used
  int64_t revoked_at = 0;              // 0: not revoked

  bool operator==(const BootstrapToken&) const = default;
};

struct NodeRecord {
  std::string name;
  std::vector<std::string> addresses;  // from the token it enrolled with
  int64_t enrolled_at = 0;
};

class NodeRegistry {
 public:
  virtual ~NodeRegistry() = default;

  // Keep a new token; only `secret_sha256` (SHA-256 of the token's whole text) is stored.
  // An id already present: ErrorKind::conflict, nothing stored. Durable when it returns.
  virtual Status add_token(const BootstrapToken& token, const Sha256& secret_sha256) = 0;

  // Every token, ordered by created_at then id.
  virtual Result<std::vector<BootstrapToken>> tokens() = 0;

  // Unknown id: not_found; already revoked or already used: conflict.
  virtual Status revoke_token(const std::string& id, int64_t when) = 0;

  // Spend a token, in one transaction: it must exist, be for `node`, have this hash
  // (compared in constant time), be unused, unrevoked and unexpired at `now`. Then it is
  // marked used, and the node is registered with the token's addresses: a node's
  // registration is the last token it spent. Every refusal is ErrorKind::auth, its message the
  // reason ("unknown bootstrap token 'abc123'", "bootstrap token 'abc123' is for another node",
  // "... was already used",
  // "... was revoked", "... expired on 2026-11-28 12:00:00Z", "wrong secret for bootstrap
  // token 'abc123'"), and nothing changes. SqliteIssuanceStore checks the secret right after
  // the id, so that the other reasons are told only to one who holds the token; a token is
  // valid while now < expires_at. Of two concurrent claims of one token, one wins and the
  // other is refused as already used.
  virtual Result<BootstrapToken> claim_token(const std::string& id, const std::string& node,
                                             const Sha256& secret_sha256, int64_t now) = 0;

  // Give back a token whose enrollment failed before anything was issued: it is unused
  // again, and the node's registration is what it was before the claim. not_found if the
  // id is unknown.
  virtual Status unclaim_token(const std::string& id) = 0;

  virtual Result<std::optional<NodeRecord>> node(const std::string& name) = 0;
};

}  // namespace hwca::ca
