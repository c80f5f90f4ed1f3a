// hwca-node: the node agent. The kubelet's key is made in the node's TPM and never leaves it;
// the agent enrolls it with the EST server (hwca serve), renews it over mutual TLS, and
// gives the kubelet short-lived credentials that depend on it.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli/app_setup.hpp"
#include "node/node_commands.hpp"
#include "tokens/registry.hpp"

int main(int argc, char** argv) {
  using namespace hwca;
  std::signal(SIGPIPE, SIG_IGN);
  node::Options options;
  int exit_code = 0;
  CLI::App app{
      "hwca-node: the node agent. It makes the kubelet's key inside this node's TPM, enrolls\n"
      "it with an hwca EST server (hwca serve), renews it over mutual TLS, and serves the\n"
      "kubelet short-lived credentials that depend on it.",
      "hwca-node"};
  cli::prepare_app(app, std::string("hwca-node ") + HWCA_VERSION);
  node::add_commands(app, options, exit_code);
  cli::finish_app(app,
                  "Exit codes: 0 ok, 1 internal, 2 usage, 3 not found, 4 refused or auth, 5 "
                  "device or server error, 7 file or network i/o (docs/cli.md, hwca-node).");
  int rc = cli::run_app(app, argc, argv, exit_code);
  tokens::shutdown_all();
  return rc;
}
