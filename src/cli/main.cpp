// hwca: a certificate authority whose keys stay in hardware.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/app_setup.hpp"
#include "cli/context.hpp"
#include "common/pin_source.hpp"
#include "common/text.hpp"
#include "tokens/call_watch.hpp"
#include "tokens/registry.hpp"

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

Result<tokens::KeyInfo> generate_key(const Context& ctx, const std::string& uri,
                                     const std::string& type) {
  auto t = tokens::parse_key_type(type);
  if (!t) return tl::unexpected(t.error());
  auto store = tokens::open_store(uri, ctx.open_options());
  if (!store) return tl::unexpected(store.error());
  return (*store)->create_key({uri, *t});
}

std::string generated_text(const tokens::KeyInfo& key) {
  bool tpm = key.uri.starts_with("tpm2:");
  return "generated " + key.type + " key '" + key.label + "' (" + (tpm ? "name " : "id ") +
         key.id_hex + ") inside the " +
         (!tpm ? "token; it cannot be exported"
          : key.uri.starts_with("tpm2:file=")
              ? "TPM; it never leaves it (the key file holds a blob only this TPM can load)"
              : "TPM, where it stays at that handle; it never leaves it") +
         "\n";
}

int report(const Error& error) {
  std::fprintf(stderr, "hwca: %s\n", printable(error.message).c_str());
  return static_cast<int>(error.kind);
}

Result<tokens::KeyAttributes> inspect_key(const Context& ctx, const std::string& uri) {
  auto store = tokens::open_store(uri, ctx.open_options());
  if (!store) return tl::unexpected(store.error());
  auto* inspector = tokens::ability<tokens::KeyInspector>(*store);
  if (inspector == nullptr) return fail(ErrorKind::usage, "this key store cannot show keys");
  return inspector->inspect_key(uri);
}

Result<std::unique_ptr<ca::SqliteIssuanceStore>> open_issuance_store(const ca::Home& home,
                                                                     bool read_only) {
  ca::SqliteIssuanceStore::Options options;
  options.read_only = read_only;
  return ca::SqliteIssuanceStore::open(home.path(home.config().database), options);
}

Status check_output_folder(const std::string& path) {
  if (path.empty()) return {};
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (::access(dir.c_str(), W_OK) != 0) {
    return fail(errno == ENOENT ? ErrorKind::not_found : ErrorKind::io,
                "cannot write " + path + ": " + error_text(errno));
  }
  return {};
}

Status check_output_file(const std::string& path, bool force) {
  if (!path.empty() && !force && ::access(path.c_str(), F_OK) == 0) {
    return fail(ErrorKind::conflict, path +
                                         " exists; --force replaces it (the old certificate "
                                         "stays valid until revoked)");
  }
  return check_output_folder(path);
}

Result<SigningSetup> open_for_signing(const Context& ctx) {
  auto home = ca::Home::open(ca::resolve_home(ctx.home), false);
  if (!home) return tl::unexpected(home.error());
  auto store = open_issuance_store(*home, false);
  if (!store) return tl::unexpected(store.error());
  auto crypto = ca::CryptoContext::create();
  if (!crypto) return tl::unexpected(crypto.error());
  return SigningSetup{std::move(*home), std::move(*store), std::move(*crypto)};
}

std::string cli_requester() { return "cli:uid=" + std::to_string(::getuid()); }

}  // namespace hwca::cli

int main(int argc, char** argv) {
  using namespace hwca;
  // A remote token (p11-kit-client) that drops its connection must give an error, not kill
  // the process with SIGPIPE.
  std::signal(SIGPIPE, SIG_IGN);
  cli::Context ctx;
  int exit_code = 0;
  CLI::App app{
      "hwca: a certificate authority whose keys stay in hardware (PKCS#11 tokens, TPM 2.0).\n"
      "Keys are named by URIs: 'pkcs11:token=ca;object=root' (RFC 7512),\n"
      "'tpm2:file=/etc/hwca/ca.tpmkey' or 'tpm2:handle=0x81000010'.\n"
      "PINs and key passwords come from --pin-source, the URI's pin-source, or a prompt.",
      "hwca"};
  cli::prepare_app(app, std::string("hwca ") + HWCA_VERSION);
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
  cli::set_serve_command(app, ctx, exit_code);
  cli::finish_app(app,
                  "Exit codes: 0 ok, 1 internal, 2 usage, 3 not found, 4 PIN/auth, 5 device, "
                  "6 conflict, 7 file i/o (docs/cli.md).");

  app.parse_complete_callback([&] {
    if (ctx.timeout > 0) {
      tokens::set_call_timeout(
          std::chrono::milliseconds(static_cast<long long>(ctx.timeout * 1000)));
    }
  });

  int rc = cli::run_app(app, argc, argv, exit_code);
  tokens::shutdown_all();
  return rc;
}
