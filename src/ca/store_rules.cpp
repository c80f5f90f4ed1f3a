#include "ca/store_rules.hpp"

#include <openssl/crypto.h>

#include <algorithm>
#include <set>
#include <utility>

#include "ca/bootstrap_token.hpp"
#include "ca/san.hpp"
#include "ca/spki.hpp"
#include "common/text.hpp"

namespace hwca::ca::rules {
namespace {

bool valid_token_id(const std::string& id) {
  if (id.size() != kTokenIdLength) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

bool canonical_address(const std::string& text) { return canonical_ip(text) == text; }

}  // namespace

std::string quoted(const std::string& text) { return "'" + printable(text) + "'"; }

bool lower_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool sha256_hex(const std::string& s) { return s.size() == 64 && lower_hex(s); }

Result<std::string> serial_key(const std::string& serial) {
  std::string s = serial;
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
  });
  if (s.empty() || !lower_hex(s) || s.size() % 2 != 0 || s.size() > 128) {
    return fail(ErrorKind::usage, "serial '" + printable(serial) +
                                      "' is not the hex of the serial's octets (e.g. 01ab)");
  }
  return s;
}

Status check_reservation(const std::string& ca, const std::vector<std::string>& serials) {
  if (ca.empty()) return fail(ErrorKind::usage, "no CA named for the serials to reserve");
  for (const auto& s : serials) {
    if (serial_key(s) != s) {
      return fail(ErrorKind::usage, "serial " + quoted(s) + " is not lower-case hex");
    }
  }
  return {};
}

Status check_batch(const std::vector<IssuedCert>& batch) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& c : batch) {
    auto key = serial_key(c.serial);
    if (!key) return tl::unexpected(key.error());
    if (*key != c.serial) {
      return fail(ErrorKind::usage, "serial " + printable(c.serial) + " is not lower-case hex");
    }
    if (c.ca.empty()) return fail(ErrorKind::usage, "certificate " + c.serial + " names no CA");
    if (c.der.empty()) return fail(ErrorKind::usage, "certificate " + c.serial + " has no DER");
    if (c.revoked && !valid_crl_reason(c.revocation_reason)) {
      return fail(ErrorKind::usage, "certificate " + c.serial + " has revocation reason " +
                                        std::to_string(c.revocation_reason) +
                                        ", not an RFC 5280 CRLReason");
    }
    if (!c.renewed_from.empty() && serial_key(c.renewed_from) != c.renewed_from) {
      return fail(ErrorKind::usage, "certificate " + c.serial + " is renewed from '" +
                                        printable(c.renewed_from) +
                                        "', not a lower-case hex serial");
    }
    if (!c.spki_sha256.empty() && c.spki_sha256.size() != 64) {
      return fail(ErrorKind::usage, "certificate " + c.serial + " has a key digest of " +
                                        std::to_string(c.spki_sha256.size()) +
                                        " characters, not a SHA-256 in hex");
    }
    for (const std::string* h : {&c.attest_ek_sha256, &c.attest_ak_name, &c.attest_key_name}) {
      if (!lower_hex(*h)) {
        return fail(ErrorKind::usage, "certificate " + c.serial +
                                          " has attestation names that are not lower-case hex");
      }
    }
    if (!c.attest_ek_sha256.empty() && c.attest_ek_sha256.size() != 64) {
      return fail(ErrorKind::usage,
                  "certificate " + c.serial + " has an EK digest that is not a SHA-256 in hex");
    }
    if (!seen.emplace(c.ca, c.serial).second) {
      return fail(ErrorKind::conflict, "serial " + c.serial + " of CA '" + printable(c.ca) +
                                           "' appears twice in the batch; nothing was recorded");
    }
  }
  return {};
}

std::string spki_of(const IssuedCert& cert) {
  return cert.spki_sha256.empty() ? spki_sha256_of_cert(cert.der) : cert.spki_sha256;
}

Status check_reason(int reason) {
  if (valid_crl_reason(reason)) return {};
  return fail(ErrorKind::usage, "revocation reason " + std::to_string(reason) +
                                    " is not an RFC 5280 CRLReason (0-10 except 7)");
}

tl::unexpected<Error> no_such_certificate(const std::string& ca, const std::string& serial,
                                          const std::string& database) {
  return fail(ErrorKind::not_found, "CA '" + printable(ca) + "' has no certificate with serial " +
                                        serial + " in issuance database " + printable(database));
}

tl::unexpected<Error> already_revoked(const std::string& ca, const std::string& serial,
                                      int64_t revoked_at) {
  return fail(ErrorKind::conflict, "certificate " + serial + " of CA '" + printable(ca) +
                                       "' was already revoked at " + rfc3339_text(revoked_at));
}

tl::unexpected<Error> lineage_already_revoked(const std::string& ca, const std::string& serial) {
  return fail(ErrorKind::conflict, "certificate " + serial + " of CA '" + printable(ca) +
                                       "' and every certificate renewed from it were already "
                                       "revoked");
}

tl::unexpected<Error> serial_used(const std::string& ca, const std::string& serial) {
  return fail(ErrorKind::conflict, "CA '" + printable(ca) + "' already used serial " + serial +
                                       "; nothing was recorded");
}

Status check_new_token(const BootstrapToken& token) {
  if (!valid_token_id(token.id)) {
    return fail(ErrorKind::usage,
                "bootstrap token id " + quoted(token.id) + " is not 6 characters of a-z and 0-9");
  }
  if (!valid_node_name(token.node)) {
    return fail(ErrorKind::usage, "bootstrap token " + quoted(token.id) + ": node name " +
                                      quoted(token.node) + " is not an RFC 1123 subdomain");
  }
  for (const auto& a : token.addresses) {
    if (!canonical_address(a)) {
      return fail(ErrorKind::usage, "bootstrap token " + quoted(token.id) + ": address " +
                                        quoted(a) + " is not an IP address in canonical form");
    }
  }
  if (token.expires_at <= token.created_at) {
    return fail(ErrorKind::usage,
                "bootstrap token " + quoted(token.id) + " expires before it was created");
  }
  return {};
}

tl::unexpected<Error> damaged(const std::string& database, const std::string& what) {
  return fail(ErrorKind::io, "issuance database " + printable(database) + " holds " + what +
                                 "; restore it from a backup");
}

Status check_secret(const std::string& id, const std::vector<uint8_t>& stored_hash,
                    const Sha256& secret_sha256, const std::string& database) {
  if (stored_hash.size() != secret_sha256.size()) {
    return damaged(database, "a damaged hash for bootstrap token " + quoted(id));
  }
  if (CRYPTO_memcmp(stored_hash.data(), secret_sha256.data(), secret_sha256.size()) != 0) {
    return fail(ErrorKind::auth, "wrong secret for bootstrap token " + quoted(id));
  }
  return {};
}

Status check_claimable(const BootstrapToken& token, const std::string& node, int64_t now) {
  const std::string& id = token.id;
  if (token.node != node) {
    return fail(ErrorKind::auth, "bootstrap token " + quoted(id) + " is for another node");
  }
  if (token.used_at != 0) {
    return fail(ErrorKind::auth, "bootstrap token " + quoted(id) + " was already used");
  }
  if (token.revoked_at != 0) {
    return fail(ErrorKind::auth, "bootstrap token " + quoted(id) + " was revoked");
  }
  if (now >= token.expires_at) {
    return fail(ErrorKind::auth,
                "bootstrap token " + quoted(id) + " expired on " + utc_text(token.expires_at));
  }
  return {};
}

Status check_revocable(const std::string& id, int64_t used_at, int64_t revoked_at) {
  if (revoked_at != 0) {
    return fail(ErrorKind::conflict, "bootstrap token " + quoted(id) + " was already revoked on " +
                                         utc_text(revoked_at));
  }
  if (used_at != 0) {
    return fail(ErrorKind::conflict, "bootstrap token " + quoted(id) + " was already used on " +
                                         utc_text(used_at) + "; it cannot be revoked");
  }
  return {};
}

tl::unexpected<Error> unknown_token(const std::string& id, ErrorKind kind) {
  return fail(kind, "unknown bootstrap token " + quoted(id));
}

tl::unexpected<Error> token_exists(const std::string& id) {
  return fail(ErrorKind::conflict,
              "bootstrap token " + quoted(id) + " already exists; nothing was stored");
}

namespace {

Status check_tpm(const NodeTpm& t) {
  if (!valid_node_name(t.node)) {
    return fail(ErrorKind::usage, "node name " + quoted(t.node) + " is not an RFC 1123 subdomain");
  }
  if (!sha256_hex(t.ek_sha256)) {
    return fail(ErrorKind::usage,
                "node " + quoted(t.node) + ": the EK digest is not a SHA-256 in lower-case hex");
  }
  if (t.ek_kind != kEkKindCertificate && t.ek_kind != kEkKindPublicKey) {
    return fail(ErrorKind::usage, "node " + quoted(t.node) + ": EK kind " + quoted(t.ek_kind) +
                                      " is neither 'certificate' nor 'public-key'");
  }
  if (t.ek_der.empty()) {
    return fail(ErrorKind::usage, "node " + quoted(t.node) + ": no EK DER to register");
  }
  for (const auto& a : t.addresses) {
    if (!canonical_address(a)) {
      return fail(ErrorKind::usage, "node " + quoted(t.node) + ": address " + quoted(a) +
                                        " is not an IP address in canonical form");
    }
  }
  return {};
}

}  // namespace

Status check_tpms(const std::vector<NodeTpm>& tpms) {
  std::set<std::string> nodes, eks;
  for (const auto& t : tpms) {
    if (auto ok = check_tpm(t); !ok) return ok;
    if (!nodes.insert(t.node).second) {
      return fail(ErrorKind::conflict,
                  "node " + quoted(t.node) + " appears twice; nothing was registered");
    }
    if (!eks.insert(t.ek_sha256).second) {
      return fail(ErrorKind::conflict, "the EK of node " + quoted(t.node) + " (SHA-256 " +
                                           t.ek_sha256 + ") appears twice; nothing was registered");
    }
  }
  return {};
}

tl::unexpected<Error> node_has_tpm(const std::string& node, const std::string& ek_sha256,
                                   bool batch) {
  return fail(ErrorKind::conflict, "node " + quoted(node) + " already has a TPM (EK SHA-256 " +
                                       printable(ek_sha256) + "); unregister it first" +
                                       (batch ? "; nothing was registered" : ""));
}

tl::unexpected<Error> ek_taken(const std::string& ek_sha256, const std::string& other_node,
                               bool batch) {
  return fail(ErrorKind::conflict, "the EK with SHA-256 " + ek_sha256 +
                                       " is already registered for node " + quoted(other_node) +
                                       (batch ? "; nothing was registered" : ""));
}

tl::unexpected<Error> no_tpm(const std::string& node) {
  return fail(ErrorKind::not_found, "node " + quoted(node) + " has no registered TPM");
}

tl::unexpected<Error> ek_root_exists(const EkRoot& root) {
  return fail(ErrorKind::conflict,
              "EK root " + root.sha256 + " (" + printable(root.subject) + ") is already present");
}

tl::unexpected<Error> no_ek_root(const std::string& sha256) {
  return fail(ErrorKind::not_found, "no EK root has SHA-256 " + quoted(sha256));
}

Status check_ek_root(const EkRoot& root) {
  if (!sha256_hex(root.sha256)) {
    return fail(ErrorKind::usage,
                "EK root digest " + quoted(root.sha256) + " is not a SHA-256 in lower-case hex");
  }
  if (root.der.empty()) return fail(ErrorKind::usage, "EK root " + root.sha256 + " has no DER");
  return {};
}

}  // namespace hwca::ca::rules
