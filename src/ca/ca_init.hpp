// Creating a CA: a self-signed root, or an intermediate signed by a CA of the same home.
// The key is already in a token; it is used through the provider and never written.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ca/ca_catalog.hpp"
#include "ca/crypto_context.hpp"
#include "ca/home.hpp"
#include "ca/issuance_store.hpp"
#include "common/ossl.hpp"

namespace hwca::ca {

struct InitCaRequest {
  std::string name;
  std::string key_uri;
  std::string subject;            // "/CN=..." or "CN=...,O=..."
  std::vector<std::string> sans;  // "DNS:kubernetes" (kubeadm's CAs carry their CN as one)
  int days = 3650;                // clipped to the parent's notAfter
  std::string parent;             // empty: a self-signed root
  std::optional<int> path_len;    // default: none for a root, 0 for an intermediate
  // Where this CA's CRL and certificate will be published (--crl-url, --ca-issuers-url): kept
  // in config.yaml and named in every certificate it issues. Its own certificate names its
  // parent's (a root's names none).
  DistributionUrls urls = {};
  tokens::OpenOptions key_options;
  std::string requester;  // for the audit log ("cli:uid=0")
  // Records the new CA's certificate (under its parent; a root under itself), so that a
  // parent can revoke it. Null: not recorded (tests of the certificate alone).
  IssuanceStore* store = nullptr;
  // A database that shares CA definitions between instances (PostgreSQL): the CA is
  // published there instead of written to config.yaml and cas/<name>/. Null: the home's.
  CaCatalog* catalog = nullptr;
};

struct InitCaResult {
  CaEntry entry;
  ossl::Ptr<X509> cert;
};

// Builds the certificate, writes cas/<name>/cert.pem and chain.pem, adds the CA to
// config.yaml and appends "ca.created" to the audit log. On failure nothing is left behind
// in the home (a key generated beforehand stays in its token).
Result<InitCaResult> init_ca(Home& home, const CryptoContext& crypto, const InitCaRequest& req);

// A CA's certificate, or its chain (the certificate, then its parents), from the home.
Result<ossl::Ptr<X509>> load_ca_cert(const Home& home, const std::string& name);
Result<std::string> read_ca_chain_pem(const Home& home, const std::string& name);

// Whether CA `name`, whose certificate is `cert`, may sign now: the certificate is valid now,
// and neither it nor any CA above it was revoked (looked up in `store`; null: not checked).
// ErrorKind::conflict otherwise.
Status check_ca_usable(const Home& home, IssuanceStore* store, const std::string& name,
                       const X509* cert);

// CA `name`'s key from its token, checked to be the key of its certificate `cert`.
Result<ossl::Ptr<EVP_PKEY>> load_ca_key(const Home& home, const CryptoContext& crypto,
                                        const std::string& name, const X509* cert,
                                        const tokens::OpenOptions& options);

}  // namespace hwca::ca
