// hwca-node: the node agent. The kubelet's key is made in the node's TPM and never leaves it;
// the agent enrolls it with the EST server (hwca serve), renews it over mutual TLS, and
// gives the kubelet short-lived credentials that depend on it.
#include <CLI/CLI.hpp>
#include <string>

#include "cli/app_setup.hpp"
#include "node/node_commands.hpp"

int main(int argc, char** argv) {
  using namespace hwca;
  node::Options options;
  cli::Program program{
      "hwca-node",
      "hwca-node: the node agent. It makes the kubelet's key inside this node's TPM, enrolls\n"
      "it with an hwca EST server (hwca serve), renews it over mutual TLS, and serves the\n"
      "kubelet short-lived credentials that depend on it.",
      std::string("hwca-node ") + HWCA_VERSION,
      "Exit codes: 0 ok, 1 internal, 2 usage, 3 not found, 4 refused or auth, 5 device or "
      "server error, 7 file or network i/o (docs/cli.md, hwca-node)."};
  return cli::run_program(program, argc, argv, [&](CLI::App& app, int& exit_code) {
    node::add_commands(app, options, exit_code);
  });
}
