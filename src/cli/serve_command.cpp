// hwca serve: the EST enrollment server (src/est) for one CA of the home.
#include <pthread.h>

#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "ca/issuer.hpp"
#include "cli/context.hpp"
#include "cli/serve_tls.hpp"
#include "cli/session.hpp"
#include "common/text.hpp"
#include "est/est_server.hpp"
#include "est/est_service.hpp"
#include "est/metered_database.hpp"

namespace hwca::cli {
namespace {

struct ServeArgs {
  std::string ca;
  std::string listen = "127.0.0.1:8443";
  TlsOptions tls;
  size_t workers = 64;
  size_t max_client_connections = 8;
  int read_timeout = 5;
  int request_timeout = 10;
  size_t max_body = 96 * 1024;
  bool require_attestation = false;
  int attest_nonce_ttl = 60;
};

Result<std::pair<std::string, int>> parse_listen(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    return fail(ErrorKind::usage, "--listen wants ADDRESS:PORT, e.g. 0.0.0.0:8443");
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  char* end = nullptr;
  long port = std::strtol(text.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) {
    return fail(ErrorKind::usage, "--listen: '" + printable(text.substr(colon + 1)) +
                                      "' is not a port number (0-65535; 0: any free port)");
  }
  return std::pair{host, static_cast<int>(port)};
}

// Is `host` (a --listen address) reachable from this machine only?
bool loopback_only(const std::string& host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

int serve(const Context& ctx, ServeArgs args) {
  const bool default_sans = args.tls.sans.empty();
  if (default_sans) args.tls.sans = {"localhost", "127.0.0.1"};
  if (args.tls.cert.empty() != args.tls.key.empty()) {
    return report(Error{ErrorKind::usage, "--tls-cert and --tls-key go together"});
  }
  auto listen = parse_listen(args.listen);
  if (!listen) return report(listen.error());
  if (default_sans && args.tls.cert.empty() && !loopback_only(listen->first)) {
    std::cerr << "hwca serve: warning: listening on " << printable(args.listen)
              << " with a TLS certificate for localhost and 127.0.0.1 only, which nodes on "
                 "other hosts cannot verify; give --tls-san with each name or address they "
                 "use to reach this server\n";
  }

  // Signals are taken by one thread of ours; every thread made after this inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto session = Session::open(ctx, Session::Access::writable);
  if (!session) return report(session.error());
  ca::Home& home = session->home();
  if (home.config().cas.count(args.ca) == 0) {
    return report(Error{ErrorKind::not_found, "no CA named '" + printable(args.ca) + "' in " +
                                                  home.dir() + " (see 'hwca ca list')"});
  }
  auto store = session->open_store();
  if (!store) return report(store.error());
  // Every call into the database is timed for /metrics (hwca_database_seconds).
  est::Metrics metrics;
  est::MeteredDatabase db(**store, metrics);
  auto crypto = session->open_crypto(ca::CryptoContext::Scope::process_default);
  if (!crypto) return report(crypto.error());
  auto issuer = ca::Issuer::open(home, **crypto, db, args.ca, ctx.open_options());
  if (!issuer) return report(issuer.error());
  auto chain = ca_chain(home, args.ca);
  if (!chain) return report(chain.error());
  std::vector<const X509*> chain_view;
  for (const auto& c : *chain) chain_view.push_back(c.get());

  // A new audit chain over a database that already holds records would hide what came
  // before it: refuse to start one. From here on, a log cut under the server is not
  // continued either (AuditTrail::anchor).
  auto audit_trail = ca::open_audit(home);
  ca::AuditTrail& audit = *audit_trail;
  auto holds = db.holds_records();
  if (!holds) return report(holds.error());
  auto anchored = audit.anchor(*holds);
  if (anchored) anchored = (*issuer)->anchor_audit(*holds);
  if (!anchored && *holds) {
    return report(wrap(anchored.error(), "the issuance database " + db.describe() +
                                             " holds certificates or bootstrap tokens")
                      .value());
  }
  if (!anchored) return report(anchored.error());
  est::EstService service(**issuer, db, db, audit, metrics, (*crypto)->libctx(), chain_view);
  est::AttestationOptions attest;
  attest.require = args.require_attestation;
  attest.nonce_ttl = std::chrono::seconds(args.attest_nonce_ttl);
  service.enable_attestation(db, attest);
  est::ServerOptions options;
  options.host = listen->first;
  options.port = listen->second;
  options.workers = args.workers;
  options.max_client_connections = args.max_client_connections;
  options.read_timeout_s = args.read_timeout;
  options.request_timeout_s = args.request_timeout;
  options.max_body = args.max_body;
  est::EstServer server(service, metrics, options);
  // The address first: a server that cannot listen issues itself no TLS certificate.
  if (auto ok = server.listen(); !ok) return report(ok.error());
  std::string note;
  auto identity = tls_identity(ctx, args.tls, home, **crypto, db, **issuer, note);
  if (!identity) return report(identity.error());
  if (auto ok = server.bind(*identity); !ok) return report(ok.error());

  std::thread watcher([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig != 0)
      std::cerr << "hwca serve: " << (sig == SIGTERM ? "SIGTERM" : "SIGINT")
                << ": finishing the requests in flight\n";
    server.stop();
  });
  std::cout << "hwca serve: CA '" << args.ca << "' on https://" << options.host << ":"
            << server.port() << "/.well-known/est/ (" << printable(note) << ")" << std::endl;
  auto ran = server.run();
  // Wake the watcher if the server stopped on its own.
  pthread_kill(watcher.native_handle(), SIGTERM);
  watcher.join();
  if (!ran) return report(ran.error());
  std::cout << "hwca serve: stopped" << std::endl;
  return 0;
}

}  // namespace

void set_serve_command(CLI::App& app, Context& ctx, int& exit_code) {
  static ServeArgs args;
  auto* cmd = app.add_subcommand(
      "serve",
      "run the EST enrollment server (RFC 7030) for a CA: nodes enroll with a bootstrap token "
      "('hwca bootstrap create') and renew over mutual TLS; SIGTERM stops it after the "
      "requests in flight");
  cmd->add_option("--ca", args.ca, "the CA that signs (see 'hwca ca list')")
      ->required()
      ->type_name("NAME");
  cmd->add_option("--listen", args.listen,
                  "address and port to listen on (default 127.0.0.1:8443; port 0: any free one)")
      ->type_name("ADDR:PORT");
  cmd->add_option("--tls-san", args.tls.sans,
                  "a DNS name or IP address for the server's TLS certificate (repeat; default "
                  "localhost and 127.0.0.1)")
      ->type_name("NAME");
  cmd->add_option("--tls-cert", args.tls.cert,
                  "present this certificate (PEM, chain after it) instead of one issued at start")
      ->type_name("FILE");
  cmd->add_option("--tls-key", args.tls.key,
                  "the key of --tls-cert: a key URI (pkcs11:, tpm2:) or a PEM file")
      ->type_name("URI|FILE");
  cmd->add_option("--workers", args.workers,
                  "connections served at once (default 64); more wait for a free worker")
      ->check(CLI::Range(1, 4096))
      ->type_name("N");
  cmd->add_option("--max-client-connections", args.max_client_connections,
                  "connections open at once from one client address (default 8); more are "
                  "closed at once")
      ->check(CLI::Range(1, 4096))
      ->type_name("N");
  cmd->add_option("--read-timeout", args.read_timeout,
                  "seconds for the TLS handshake, for each read of a request, and for an idle "
                  "connection to send its next request (default 5)")
      ->check(CLI::Range(1, 300))
      ->type_name("SECONDS");
  cmd->add_option("--request-timeout", args.request_timeout,
                  "seconds for a whole request, headers and body, from its first byte "
                  "(default 10)")
      ->check(CLI::Range(1, 600))
      ->type_name("SECONDS");
  cmd->add_option("--max-body", args.max_body,
                  "largest request body in bytes (default 98304); larger ones, chunked or not, "
                  "get 413 and the connection is closed")
      ->check(CLI::Range(1024, 16 * 1024 * 1024))
      ->type_name("BYTES");
  cmd->add_flag("--require-attestation", args.require_attestation,
                "enroll nodes by TPM attestation only: bootstrap tokens are refused for every "
                "node (a node with a registered TPM is refused them in any case)");
  cmd->add_option("--attest-nonce-ttl", args.attest_nonce_ttl,
                  "seconds an attestation challenge may wait for its answer (default 60)")
      ->check(CLI::Range(5, 600))
      ->type_name("SECONDS");
  cmd->callback([&] { exit_code = serve(ctx, args); });
}

}  // namespace hwca::cli
