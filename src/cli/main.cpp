// hwca: a certificate authority whose keys stay in hardware.
#include <chrono>
#include <cstdlib>

#include "cli/app_setup.hpp"
#include "cli/context.hpp"
#include "common/pin_source.hpp"
#include "tokens/call_watch.hpp"

namespace hwca::cli {

namespace {

std::string env_pin_source() {
  const char* env = std::getenv("HWCA_PIN_SOURCE");
  return env != nullptr ? env : "";
}

}  // namespace

tokens::OpenOptions Context::open_options() const {
  tokens::OpenOptions o;
  o.module = module;
  o.tcti = tcti;
  o.pin_source = pin_source;
  o.default_pin_source = env_pin_source();
  o.pin_prompt = prompt_pin;
  return o;
}

}  // namespace hwca::cli

namespace {

// The options every command takes, before or after it.
void add_global_options(CLI::App& app, hwca::cli::Context& ctx) {
  using namespace hwca;
  app.add_option("--module", ctx.module,
                 "PKCS#11 module (.so); default: module-path= in the URI, $HWCA_PKCS11_MODULE, "
                 "else p11-kit's proxy")
      ->type_name("PATH");
  app.add_option("--tcti", ctx.tcti,
                 "the TPM that tpm2: keys live in, as a tpm2-tss TCTI: device:/dev/tpmrm0, "
                 "tabrmd:, swtpm:host=H,port=P; default $HWCA_TCTI, else device:/dev/tpmrm0")
      ->type_name("TCTI")
      ->check([](const std::string& s) {
        return s.empty() ? std::string("must name a TCTI, e.g. device:/dev/tpmrm0") : std::string();
      });
  app.add_option("--pin-source", ctx.pin_source,
                 "where the PIN is read from: env:NAME or file:PATH (mode 0600); default "
                 "the URI's pin-source, $HWCA_PIN_SOURCE, else a prompt")
      ->type_name("SOURCE")
      ->check([](const std::string& s) {
        auto ok = check_pin_source_syntax(s);
        return ok ? std::string() : ok.error().message;
      });
  app.add_option("--home", ctx.home,
                 "the CA home folder (config, certificates, database, audit log); default "
                 "$HWCA_HOME, else /var/lib/hwca for root, ~/.local/share/hwca otherwise")
      ->type_name("DIR");
  app.add_option("--database", ctx.database,
                 "the home's issuance database: a postgresql:// URL (a password never in it: "
                 "passfile=, $PGPASSFILE or ~/.pgpass) that several hwca instances share, "
                 "kept in the home's config.yaml when the home is new; default $HWCA_DATABASE, "
                 "else the config's (issuance.db, SQLite)")
      ->type_name("URL");
  app.add_option("--timeout", ctx.timeout,
                 "seconds a token may take to answer one call (default $HWCA_TOKEN_TIMEOUT or 30)")
      ->check([](const std::string& s) {
        char* end = nullptr;
        double v = std::strtod(s.c_str(), &end);
        return end != s.c_str() && *end == '\0' && v > 0 && v <= 3600
                   ? std::string()
                   : std::string("must be a number of seconds between 0 and 3600");
      })
      ->type_name("SECONDS");
  app.parse_complete_callback([&] {
    if (ctx.timeout > 0) {
      tokens::set_call_timeout(
          std::chrono::milliseconds(static_cast<long long>(ctx.timeout * 1000)));
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  using namespace hwca;
  cli::Context ctx;
  cli::Program program{
      "hwca",
      "hwca: a certificate authority whose keys stay in hardware (PKCS#11 tokens, TPM 2.0).\n"
      "Keys are named by URIs: 'pkcs11:token=ca;object=root' (RFC 7512),\n"
      "'tpm2:file=/etc/hwca/ca.tpmkey' or 'tpm2:handle=0x81000010'.\n"
      "PINs and key passwords come from --pin-source, the URI's pin-source, or a prompt.",
      std::string("hwca ") + HWCA_VERSION,
      "Exit codes: 0 ok, 1 internal, 2 usage, 3 not found, 4 PIN/auth, 5 device, 6 conflict, "
      "7 file i/o (docs/cli.md)."};
  return cli::run_program(program, argc, argv, [&](CLI::App& app, int& exit_code) {
    add_global_options(app, ctx);
    cli::set_token_command(app, ctx, exit_code);
    cli::set_key_command(app, ctx, exit_code);
    cli::set_ca_command(app, ctx, exit_code);
    cli::set_audit_command(app, ctx, exit_code);
    cli::set_sign_command(app, ctx, exit_code);
    cli::set_cert_command(app, ctx, exit_code);
    cli::set_revoke_command(app, ctx, exit_code);
    cli::set_k8s_command(app, ctx, exit_code);
    cli::set_bootstrap_command(app, ctx, exit_code);
    cli::set_node_command(app, ctx, exit_code);
    cli::set_ek_roots_command(app, ctx, exit_code);
    cli::set_db_command(app, ctx, exit_code);
    cli::set_serve_command(app, ctx, exit_code);
  });
}
