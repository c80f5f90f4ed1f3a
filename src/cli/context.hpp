// What every hwca subcommand shares: global options and how failures are reported.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "common/result.hpp"
#include "tokens/open_options.hpp"

namespace hwca::cli {

struct Context {
  std::string module;      // --module
  std::string tcti;        // --tcti
  std::string pin_source;  // --pin-source
  double timeout = 0;      // --timeout seconds; 0: HWCA_TOKEN_TIMEOUT or 30 s
  std::string home;        // --home; empty: HWCA_HOME or the default (src/ca/home.hpp)
  std::string database;    // --database; empty: HWCA_DATABASE, else the home's config

  // How keys are reached, for the token layer and for keys loaded through the provider
  // alike; $HWCA_PIN_SOURCE is the default after the URI's pin-source.
  tokens::OpenOptions open_options() const;
};

// Print "hwca: <message>" on stderr and give the exit code for the error's kind.
int report(const Error& error);

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
void set_db_command(CLI::App& app, Context& ctx, int& exit_code);

}  // namespace hwca::cli
