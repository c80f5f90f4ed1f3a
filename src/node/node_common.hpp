// What hwca-node's subcommands share (node_commands.cpp, serving_command.cpp): errors as one
// line, the library context and key-store options, the EST endpoint, the node's TPM-bound
// identity and enrollment over mutual TLS with it, staged replacements, the common options.
#pragma once

#include <CLI/CLI.hpp>
#include <ctime>
#include <memory>
#include <string>

#include "ca/crypto_context.hpp"
#include "common/ossl.hpp"
#include "common/result.hpp"
#include "node/est_client.hpp"
#include "node/node_commands.hpp"
#include "tokens/keystore.hpp"

namespace hwca::node {

// "hwca-node: <message>" on standard error; the exit code of its kind.
int report(const Error& e);

// "2026-11-28T12:00:00Z"
std::string rfc3339(std::time_t t);

// What every command shares: the library context (OpenSSL's default one, where the EST
// client's TLS runs) and the options for the key's store.
struct Setup {
  std::unique_ptr<ca::CryptoContext> crypto;
  tokens::OpenOptions keys;
};
Result<Setup> setup(const Options& o);

// --server, with `label` (if not empty) as its EST label.
Result<EstEndpoint> endpoint(const Options& o, const std::string& label);

// The node a certificate belongs to (CN=system:node:<name>); `path` names it in errors.
Result<std::string> node_of(const X509* cert, const std::string& path);

// Refuse before enrolling (and spending a token, or a certificate) what would keep the file
// from being written: its folder must exist and be writable.
Status check_cert_out(const std::string& path);

// "<dir>/.<name>.new": where a replacement is made before it takes the file's place.
std::string staged_path(const std::string& path);

// The node's current certificate and its TPM key, which must belong together: what renewal,
// the credential plugin and the serving certificate authenticate with.
struct Identity {
  ossl::Ptr<X509> cert;
  std::string node;
  Setup setup;
  ossl::Ptr<EVP_PKEY> key;
};
Result<Identity> load_identity(const Options& o, const std::string& cert_path);

// Enroll `csr` at `label` over mutual TLS with the node's certificate and TPM key.
Result<ossl::Ptr<X509>> enroll_as(const Options& o, const Identity& id, const std::string& label,
                                  const std::string& csr, bool reenroll);

// --server, --ca-cert (required unless `needs_ca` is false), --key, --tcti, --pin-source,
// --timeout.
void common_options(CLI::App* cmd, Options& o, bool needs_ca = true);

// hwca-node serving (serving_command.cpp).
void add_serving_command(CLI::App& app, Options& o, int& exit_code);

}  // namespace hwca::node
