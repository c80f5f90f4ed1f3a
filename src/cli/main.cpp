// hwca: a certificate authority whose keys stay in hardware.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/context.hpp"
#include "common/pin_source.hpp"
#include "tokens/call_watch.hpp"
#include "tokens/registry.hpp"

namespace hwca::cli {

tokens::OpenOptions Context::open_options() const {
  tokens::OpenOptions o;
  o.module = module;
  o.pin_source = pin_source;
  if (const char* env = std::getenv("HWCA_PIN_SOURCE")) o.default_pin_source = env;
  o.pin_prompt = prompt_pin;
  return o;
}

int report(const Error& error) {
  std::fprintf(stderr, "hwca: %s\n", error.message.c_str());
  return static_cast<int>(error.kind);
}

}  // namespace hwca::cli

int main(int argc, char** argv) {
  using namespace hwca;
  // A remote token (p11-kit-client) that drops its connection must give an error, not kill
  // the process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  cli::Context ctx;
  int exit_code = 0;
  CLI::App app{
      "hwca: a certificate authority whose keys stay in hardware (PKCS#11 tokens).\n"
      "Keys are named by RFC 7512 URIs, e.g. 'pkcs11:token=ca;object=root'.\n"
      "PINs come from --pin-source, the URI's pin-source, or a terminal prompt.",
      "hwca"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("hwca ") + HWCA_VERSION);
  app.add_option("--module", ctx.module,
                 "PKCS#11 module (.so); default: module-path= in the URI, $HWCA_PKCS11_MODULE, "
                 "else p11-kit's proxy")
      ->type_name("PATH");
  app.add_option("--pin-source", ctx.pin_source,
                 "where the PIN is read from: env:NAME or file:PATH (mode 0600); default "
                 "the URI's pin-source, $HWCA_PIN_SOURCE, else a prompt")
      ->type_name("SOURCE")
      ->check([](const std::string& s) {
        auto ok = check_pin_source_syntax(s);
        return ok ? std::string() : ok.error().message;
      });
  app.add_option("--timeout", ctx.timeout,
                 "seconds a token may take to answer one call (default $HWCA_TOKEN_TIMEOUT or 30)")
      ->check(CLI::PositiveNumber)
      ->type_name("SECONDS");
  app.footer(
      "Exit codes: 0 ok, 1 internal, 2 usage, 3 not found, 4 PIN/auth, 5 device, "
      "6 conflict, 7 file i/o (docs/cli.md).");

  cli::set_token_command(app, ctx, exit_code);
  cli::set_key_command(app, ctx, exit_code);

  app.parse_complete_callback([&] {
    if (ctx.timeout > 0) {
      tokens::set_call_timeout(
          std::chrono::milliseconds(static_cast<long long>(ctx.timeout * 1000)));
    }
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    tokens::shutdown_all();
    return rc == 0 ? 0 : static_cast<int>(ErrorKind::usage);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hwca: unexpected failure: %s\n", e.what());
    tokens::shutdown_all();
    return static_cast<int>(ErrorKind::internal);
  }
  std::cout.flush();
  if (!std::cout) {
    std::fprintf(stderr, "hwca: cannot write to standard output\n");
    exit_code = static_cast<int>(ErrorKind::io);
  }
  tokens::shutdown_all();
  return exit_code;
}
