// The EST server's own TLS identity (hwca serve): given with --tls-cert/--tls-key, or made
// from a key beside the CA key and a certificate the served CA issues.
//
// The default key is object "<ca>-est-tls-<8 hex>" in the CA key's token, where the hex
// is the start of the SHA-256 of the CA's public key: two homes whose CAs share a name in
// one token get a key each. For a TPM CA it is a key file of the same TPM in the CA's
// folder (cas/<ca>/est-tls.tpmkey), already the home's own.
//
// The certificate issued for it is kept in cas/<ca>/est-tls.pem and used again by the next
// start while it is still good for this server (same key and names, issued by this CA,
// recorded and not revoked, less than two thirds of its life gone): a server restarted by
// its service manager does not issue itself a new certificate each time.
#pragma once

#include <string>
#include <vector>

#include "ca/crypto_context.hpp"
#include "ca/home.hpp"
#include "ca/issuance_store.hpp"
#include "ca/issuer.hpp"
#include "cli/context.hpp"
#include "est/est_server.hpp"

namespace hwca::cli {

struct TlsOptions {
  std::vector<std::string> sans;  // DNS names or IP addresses
  std::string cert, key;          // --tls-cert, --tls-key (both or neither)
  int days = 90;                  // life of a certificate issued for the server
};

// The CA and its parents up to the root, the CA first.
Result<std::vector<ossl::Ptr<X509>>> ca_chain(const ca::Home& home, const std::string& name);

// Where the server's TLS key lives by default (see above).
Result<std::string> default_tls_key_uri(const ca::Home& home, const std::string& ca_name,
                                        const X509* ca_cert);

// The identity to serve with; `note` says where its certificate and key come from, for the
// server's start line.
Result<est::TlsIdentity> tls_identity(const Context& ctx, const TlsOptions& options,
                                      const ca::Home& home, const ca::CryptoContext& crypto,
                                      ca::IssuanceStore& store, ca::Issuer& issuer,
                                      std::string& note);

}  // namespace hwca::cli
