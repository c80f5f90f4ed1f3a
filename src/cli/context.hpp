// What every hwca subcommand shares: global options and how failures are reported.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "ca/crypto_context.hpp"
#include "ca/home.hpp"
#include "ca/sqlite_issuance_store.hpp"
#include "common/result.hpp"
#include "tokens/keystore.hpp"

namespace hwca::cli {

struct Context {
  std::string module;      // --module
  std::string tcti;        // --tcti
  std::string pin_source;  // --pin-source
  double timeout = 0;      // --timeout seconds; 0: HWCA_TOKEN_TIMEOUT or 30 s
  std::string home;        // --home; empty: HWCA_HOME or the default (src/ca/home.hpp)

  // How keys are reached, for the token layer and for keys loaded through the provider
  // alike; $HWCA_PIN_SOURCE is the default after the URI's pin-source.
  tokens::OpenOptions open_options() const;
};

// Print "hwca: <message>" on stderr and give the exit code for the error's kind.
int report(const Error& error);

// Generate a key in the token the URI names (hwca key generate, hwca ca init --generate).
Result<tokens::KeyInfo> generate_key(const Context& ctx, const std::string& uri,
                                     const std::string& type);

// "generated ec-p256 key 'L' (id ...) inside the token; it cannot be exported\n", or the
// TPM's version of it.
std::string generated_text(const tokens::KeyInfo& key);

// A key's attributes as its store reports them (hwca key show, hwca ca show).
Result<tokens::KeyAttributes> inspect_key(const Context& ctx, const std::string& uri);

// The home's issuance database (read-only for commands that only look).
Result<std::unique_ptr<ca::SqliteIssuanceStore>> open_issuance_store(const ca::Home& home,
                                                                     bool read_only);

// Refuse early what would make a certificate impossible to hand out after it was issued:
// the folder `path` goes in must exist and be writable (empty path: standard output, fine).
Status check_output_folder(const std::string& path);
// The same for a certificate's file, which must not exist yet unless `force` (conflict:
// "FILE exists; --force replaces it ...").
Status check_output_file(const std::string& path, bool force);

// What a command that signs needs: the home, its issuance database (writable) and the
// library context with the provider.
struct SigningSetup {
  ca::Home home;
  std::unique_ptr<ca::SqliteIssuanceStore> store;
  std::unique_ptr<ca::CryptoContext> crypto;
};
Result<SigningSetup> open_for_signing(const Context& ctx);

// Who is asking, for the database and the audit log: "cli:uid=<uid>".
std::string cli_requester();

// Subcommands (one file each). Each callback sets `exit_code`.
void set_token_command(CLI::App& app, Context& ctx, int& exit_code);
void set_key_command(CLI::App& app, Context& ctx, int& exit_code);
void set_ca_command(CLI::App& app, Context& ctx, int& exit_code);
void set_audit_command(CLI::App& app, Context& ctx, int& exit_code);
void set_sign_command(CLI::App& app, Context& ctx, int& exit_code);
void set_cert_command(CLI::App& app, Context& ctx, int& exit_code);
void add_cert_inspect(CLI::App* cert, int& exit_code);                 // hwca cert inspect
void set_revoke_command(CLI::App& app, Context& ctx, int& exit_code);  // revoke and crl
void set_k8s_command(CLI::App& app, Context& ctx, int& exit_code);
void set_bootstrap_command(CLI::App& app, Context& ctx, int& exit_code);
void set_serve_command(CLI::App& app, Context& ctx, int& exit_code);
void set_node_command(CLI::App& app, Context& ctx, int& exit_code);
void set_ek_roots_command(CLI::App& app, Context& ctx, int& exit_code);

}  // namespace hwca::cli
