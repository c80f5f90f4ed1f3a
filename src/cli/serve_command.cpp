// hwca serve: the EST enrollment server (src/est) for one CA of the home.
#include <pthread.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "ca/ca_init.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/issuer.hpp"
#include "ca/san.hpp"
#include "cli/context.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"
#include "common/uri.hpp"
#include "est/est_server.hpp"
#include "est/est_service.hpp"
#include "k8s/leaf_key.hpp"

namespace hwca::cli {
namespace {

struct ServeArgs {
  std::string ca;
  std::string listen = "127.0.0.1:8443";
  std::vector<std::string> tls_sans;
  std::string tls_cert, tls_key;
  size_t workers = 64;
  size_t max_client_connections = 8;
  int read_timeout = 5;
  int request_timeout = 10;
  size_t max_body = 96 * 1024;
  int tls_days = 90;
};

constexpr const char* kTlsKeyType = "ec-p256";

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

// Where the server's own TLS key lives by default: beside the CA key, in the same token
// (object "<ca>-est-tls") or, for a TPM CA, in a key file of the same TPM in the CA's folder.
Result<std::string> default_tls_key_uri(const ca::Home& home, const std::string& ca_name) {
  const std::string& ca_key = home.config().cas.at(ca_name).key;
  auto uri = parse_uri(ca_key);
  if (!uri) return tl::unexpected(uri.error());
  if (uri->scheme == "tpm2") {
    return "tpm2:file=" + home.path("cas/" + ca_name + "/est-tls.tpmkey");
  }
  Uri tls = *uri;
  tls.path.clear();
  for (const auto& [name, value] : uri->path) {
    if (name != "object" && name != "id" && name != "type") tls.path.emplace_back(name, value);
  }
  tls.path.emplace_back("object", ca_name + "-est-tls");
  return format_uri(tls);
}

Result<ossl::Ptr<EVP_PKEY>> load_or_make_tls_key(const Context& ctx,
                                                 const ca::CryptoContext& crypto,
                                                 const std::string& uri, bool* made) {
  auto key = crypto.load_private_key(uri, ctx.key_load_options());
  if (key || key.error().kind != ErrorKind::not_found) return key;
  auto generated = generate_key(ctx, uri, kTlsKeyType);
  if (!generated) return wrap(generated.error(), "cannot make the server's TLS key " + uri);
  *made = true;
  return crypto.load_private_key(uri, ctx.key_load_options());
}

Result<std::vector<ossl::Ptr<X509>>> ca_chain(const ca::Home& home, const std::string& name) {
  std::vector<ossl::Ptr<X509>> out;
  for (std::string n = name; !n.empty(); n = home.config().cas.at(n).parent) {
    auto cert = ca::load_ca_cert(home, n);
    if (!cert) return tl::unexpected(cert.error());
    out.push_back(std::move(*cert));
  }
  return out;
}

// The server's TLS certificate: given (--tls-cert/--tls-key), or issued now by the CA it
// serves for a key in the CA's token.
Result<est::TlsIdentity> tls_identity(const Context& ctx, const ServeArgs& args,
                                      const ca::Home& home, const ca::CryptoContext& crypto,
                                      ca::Issuer& issuer, std::string& note) {
  est::TlsIdentity id;
  auto chain = ca_chain(home, args.ca);
  if (!chain) return tl::unexpected(chain.error());
  id.client_ca.reset(X509_dup(chain->front().get()));
  if (!args.tls_cert.empty()) {
    auto certs = ca::read_pem_certificates(args.tls_cert);
    if (!certs) return tl::unexpected(certs.error());
    id.cert = std::move(certs->front());
    for (size_t i = 1; i < certs->size(); ++i) id.chain.push_back(std::move((*certs)[i]));
    if (!uri_scheme(args.tls_key).empty()) {
      auto key = crypto.load_private_key(args.tls_key, ctx.key_load_options());
      if (!key) return tl::unexpected(key.error());
      id.key = std::move(*key);
    } else {
      auto pem = read_file(args.tls_key);
      if (!pem) return tl::unexpected(pem.error());
      auto key = k8s::parse_private_key(*pem, args.tls_key);
      OPENSSL_cleanse(pem->data(), pem->size());
      if (!key) return tl::unexpected(key.error());
      id.key = std::move(*key);
    }
    note = "TLS certificate from " + args.tls_cert;
    return id;
  }
  auto uri = default_tls_key_uri(home, args.ca);
  if (!uri) return tl::unexpected(uri.error());
  bool made = false;
  auto key = load_or_make_tls_key(ctx, crypto, *uri, &made);
  if (!key) return tl::unexpected(key.error());
  std::vector<std::string> sans;
  for (const auto& name : args.tls_sans) {
    sans.push_back((ca::parse_san("IP:" + name, {}) ? "IP:" : "DNS:") + name);
  }
  auto csr = k8s::make_csr_der(crypto.libctx(), key->get(), args.tls_sans.front(), {}, sans);
  if (!csr) return tl::unexpected(csr.error());
  ca::SignRequest request;
  request.csr = std::move(*csr);
  request.source = "the EST server's TLS request";
  request.profile = "server";
  request.days = args.tls_days;
  request.requester = "serve:uid=" + std::to_string(::getuid());
  auto issued = issuer.issue(request);
  if (!issued) return wrap(issued.error(), "cannot issue the server's TLS certificate");
  // From its DER, so that TLS decodes its public key afresh in the process's context.
  const auto der = ca::cert_der(issued->cert.get());
  const unsigned char* p = der.data();
  id.cert.reset(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!id.cert) return fail(ErrorKind::internal, "cannot decode the server's TLS certificate");
  for (auto& c : *chain) id.chain.push_back(std::move(c));
  id.key = std::move(*key);
  note = std::string("TLS certificate ") + issued->record.serial + " for " +
         [&] {
           std::string all;
           for (const auto& s : args.tls_sans) all += (all.empty() ? "" : ", ") + s;
           return all;
         }() +
         ", key " + *uri + (made ? " (made now)" : "");
  return id;
}

int serve(const Context& ctx, ServeArgs args) {
  if (args.tls_sans.empty()) args.tls_sans = {"localhost", "127.0.0.1"};
  if (args.tls_cert.empty() != args.tls_key.empty()) {
    return report(Error{ErrorKind::usage, "--tls-cert and --tls-key go together"});
  }
  auto listen = parse_listen(args.listen);
  if (!listen) return report(listen.error());

  // Signals are taken by one thread of ours; every thread made after this inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto home = ca::Home::open(ca::resolve_home(ctx.home), false);
  if (!home) return report(home.error());
  if (home->config().cas.count(args.ca) == 0) {
    return report(Error{ErrorKind::not_found, "no CA named '" + printable(args.ca) + "' in " +
                                                  home->dir() + " (see 'hwca ca list')"});
  }
  auto store = open_issuance_store(*home, false);
  if (!store) return report(store.error());
  auto crypto = ca::CryptoContext::create(ca::CryptoContext::Scope::process_default);
  if (!crypto) return report(crypto.error());
  auto issuer = ca::Issuer::open(*home, **crypto, **store, args.ca, ctx.key_load_options());
  if (!issuer) return report(issuer.error());
  std::string note;
  auto identity = tls_identity(ctx, args, *home, **crypto, **issuer, note);
  if (!identity) return report(identity.error());
  auto chain = ca_chain(*home, args.ca);
  if (!chain) return report(chain.error());
  std::vector<const X509*> chain_view;
  for (const auto& c : *chain) chain_view.push_back(c.get());

  ca::AuditLog audit(home->path(home->config().audit_log));
  est::Metrics metrics;
  est::EstService service(**issuer, **store, **store, audit, metrics, (*crypto)->libctx(),
                          chain_view);
  est::ServerOptions options;
  options.host = listen->first;
  options.port = listen->second;
  options.workers = args.workers;
  options.max_client_connections = args.max_client_connections;
  options.read_timeout_s = args.read_timeout;
  options.request_timeout_s = args.request_timeout;
  options.max_body = args.max_body;
  est::EstServer server(service, metrics, options);
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
  cmd->add_option("--tls-san", args.tls_sans,
                  "a DNS name or IP address for the server's TLS certificate (repeat; default "
                  "localhost and 127.0.0.1)")
      ->type_name("NAME");
  cmd->add_option("--tls-cert", args.tls_cert,
                  "present this certificate (PEM, chain after it) instead of one issued at start")
      ->type_name("FILE");
  cmd->add_option("--tls-key", args.tls_key,
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
  cmd->callback([&] { exit_code = serve(ctx, args); });
}

}  // namespace hwca::cli
