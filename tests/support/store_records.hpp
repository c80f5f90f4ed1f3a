// The records the issuance database's tests make, written once for the contract tests that
// run against both stores (tests/store) and the SQLite unit tests that keep what only a file
// does (tests/unit: upgrades of older files, reading the file itself).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "ca/bootstrap_token.hpp"
#include "ca/issuance_store.hpp"
#include "ca/node_registry.hpp"
#include "ca/tpm_registry.hpp"

namespace hwca::test {

// Certificates as the issuance store's contract records them (issuance_store.hpp): a server
// certificate of CA `ca` with two SANs and a DER that is no certificate.
namespace issuance {

inline ca::IssuedCert cert(const std::string& ca, const std::string& serial,
                           int64_t not_after = 2000000000) {
  ca::IssuedCert c;
  c.ca = ca;
  c.serial = serial;
  c.profile = "server";
  c.subject = "CN=" + serial + ".example,O=Example\\, Inc.";
  c.sans = {"DNS:" + serial + ".example", "IP:10.0.0.1"};
  c.not_before = not_after - 86400;
  c.not_after = not_after;
  c.requester = "cli:uid=0";
  c.der = {0x30, 0x82, 0x00, 0xff, 0x00, 0x01};
  return c;
}

// Serial n as 8 hex digits (4 octets).
inline std::string hex_serial(int n) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", n);
  return buf;
}

}  // namespace issuance

// Bootstrap tokens (node_registry.hpp).
namespace bootstrap {

inline constexpr int64_t kNow = 1900000000;
inline constexpr int64_t kExpires = 2000000000;  // 2033-05-18 03:33:20Z

// A token with its text (the secret) and the record to store.
struct Made {
  std::string text;
  ca::BootstrapToken token;
  ca::Sha256 hash{};
};

inline Made make(const std::string& node, std::vector<std::string> addresses = {"10.0.0.5"},
                 int64_t created = kNow - 100, int64_t expires = kExpires) {
  auto t = ca::make_bootstrap_token();
  EXPECT_TRUE(t);
  Made m;
  m.text = t->text;
  m.token.id = t->id;
  m.token.node = node;
  m.token.addresses = std::move(addresses);
  m.token.created_at = created;
  m.token.expires_at = expires;
  m.token.created_by = "cli:uid=0";
  m.hash = ca::bootstrap_token_hash(m.text);
  return m;
}

}  // namespace bootstrap

// TPM registrations (tpm_registry.hpp).
namespace tpm_registry {

// 64 times `c`: a SHA-256 in hex.
inline std::string hex64(char c) { return std::string(64, c); }

inline ca::NodeTpm tpm(const std::string& node, char ek, const char* kind = "certificate") {
  ca::NodeTpm t;
  t.node = node;
  t.ek_sha256 = hex64(ek);
  t.ek_kind = kind;
  t.ek_der = {0x30, 0x03, 0x02, 0x01, static_cast<uint8_t>(ek)};
  t.registered_at = 1700000000;
  t.registered_by = "cli:uid=0";
  return t;
}

// The node names, in order.
inline std::vector<std::string> nodes_of(const std::vector<ca::NodeTpm>& tpms) {
  std::vector<std::string> out;
  for (const auto& t : tpms) out.push_back(t.node);
  return out;
}

}  // namespace tpm_registry

// Certificates with their lineage (issuance_store.hpp, renewed_from and spki_sha256).
namespace lineage {

// A kubelet client certificate of CA `ca`, renewed from `from` (none if empty), for the key
// whose digest is `spki` (unknown if empty).
inline ca::IssuedCert cert(const std::string& ca, const std::string& serial,
                           const std::string& from = "", const std::string& spki = "") {
  ca::IssuedCert c;
  c.ca = ca;
  c.serial = serial;
  c.profile = "kubelet-client";
  c.subject = "CN=system:node:n1,O=system:nodes";
  c.not_before = 1700000000;
  c.not_after = 2000000000;
  c.requester = "est:n1";
  c.der = {0x30, 0x03, 0x02, 0x01, 0x01};
  c.renewed_from = from;
  c.spki_sha256 = spki;
  return c;
}

// The serials, in order.
inline std::vector<std::string> serials(const std::vector<ca::IssuedCert>& certs) {
  std::vector<std::string> out;
  for (const auto& c : certs) out.push_back(c.serial);
  return out;
}

}  // namespace lineage

}  // namespace hwca::test
