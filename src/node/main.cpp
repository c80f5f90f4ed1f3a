// hwca-node: the node agent. The kubelet's key is made in the node's TPM and never leaves it;
// the agent enrolls it with the EST server (hwca serve), renews it over mutual TLS, and
// gives the kubelet short-lived credentials that depend on it.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "common/text.hpp"
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
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::string("hwca-node ") + HWCA_VERSION);
  node::add_commands(app, options, exit_code);
  app.footer(
      "Exit codes: 0 ok, 1 internal, 2 usage, 3 not found, 4 refused or auth, 5 device or "
      "server error, 7 file or network i/o (docs/cli.md, hwca-node).");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    std::printf("%s\n", e.what());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "hwca-node: %s (see hwca-node --help)\n", printable(e.what()).c_str());
    tokens::shutdown_all();
    return static_cast<int>(ErrorKind::usage);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hwca-node: unexpected failure: %s\n", printable(e.what()).c_str());
    tokens::shutdown_all();
    return static_cast<int>(ErrorKind::internal);
  }
  std::cout.flush();
  tokens::shutdown_all();
  return exit_code;
}
