#include "node/node_common.hpp"

#include <unistd.h>

#include <cerrno>

#include "ca/dn.hpp"
#include "common/text.hpp"
#include "node/node_identity.hpp"

namespace hwca::node {

int report(const Error& e) {
  std::fprintf(stderr, "hwca-node: %s\n", printable(e.message).c_str());
  return static_cast<int>(e.kind);
}

std::string rfc3339(std::time_t t) {
  char buf[32];
  struct tm tm {};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<Setup> setup(const Options& o) {
  auto crypto = ca::CryptoContext::create(ca::CryptoContext::Scope::process_default);
  if (!crypto) return tl::unexpected(crypto.error());
  Setup s;
  s.crypto = std::move(*crypto);
  s.keys.tcti = o.tcti;
  s.keys.pin_source = o.pin_source;
  return s;
}

Result<EstEndpoint> endpoint(const Options& o, const std::string& label) {
  auto e = parse_est_url(o.server);
  if (!e) return tl::unexpected(e.error());
  if (!label.empty()) e->label = label;
  return e;
}

// The node a certificate belongs to (CN=system:node:<name>).
Result<std::string> node_of(const X509* cert, const std::string& path) {
  auto cn = ca::name_values(X509_get_subject_name(cert), NID_commonName);
  const std::string prefix = "system:node:";
  if (cn.size() != 1 || cn[0].rfind(prefix, 0) != 0 || cn[0].size() == prefix.size()) {
    return fail(ErrorKind::usage, printable(path) + " is not a node's certificate (subject " +
                                      printable(ca::dn_text(X509_get_subject_name(cert))) + ")");
  }
  return cn[0].substr(prefix.size());
}

// "<dir>/.<name>.new": where a replacement is made before it takes the file's place.
std::string staged_path(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos
             ? "." + path + ".new"
             : path.substr(0, slash + 1) + "." + path.substr(slash + 1) + ".new";
}

Result<Identity> load_identity(const Options& o, const std::string& cert_path) {
  Identity id;
  auto cert = read_certificate(cert_path);
  if (!cert) return tl::unexpected(cert.error());
  id.cert = std::move(*cert);
  auto node = node_of(id.cert.get(), cert_path);
  if (!node) return tl::unexpected(node.error());
  id.node = std::move(*node);
  auto s = setup(o);
  if (!s) return tl::unexpected(s.error());
  id.setup = std::move(*s);
  auto key = id.setup.crypto->load_private_key(o.key, id.setup.keys);
  if (!key) return tl::unexpected(key.error());
  id.key = std::move(*key);
  if (EVP_PKEY_eq(X509_get0_pubkey(id.cert.get()), id.key.get()) != 1) {
    ERR_clear_error();
    return fail(ErrorKind::usage, printable(cert_path) + " is not the certificate of " + o.key);
  }
  return id;
}

// Enroll `csr` at `label` over mutual TLS with the node's certificate and TPM key.
Result<ossl::Ptr<X509>> enroll_as(const Options& o, const Identity& id, const std::string& label,
                                  const std::string& csr, bool reenroll) {
  auto e = endpoint(o, label);
  if (!e) return tl::unexpected(e.error());
  ClientOptions co;
  co.ca_file = o.ca_cert;
  co.client_cert = id.cert.get();
  co.client_key = id.key.get();
  co.timeout_s = o.timeout;
  return EstClient(*e, co).enroll(csr, reenroll);
}

void common_options(CLI::App* cmd, Options& o, bool needs_ca) {
  cmd->add_option("--server", o.server, "the EST server: https://HOST:PORT (hwca serve)")
      ->required()
      ->type_name("URL");
  auto* ca = cmd->add_option("--ca-cert", o.ca_cert,
                             "PEM file of the CA the server's certificate and the returned one "
                             "must chain to")
                 ->type_name("FILE");
  if (needs_ca) ca->required();
  cmd->add_option("--key", o.key,
                  "the node key's URI: tpm2:file=PATH (a TSS2 key file) or tpm2:handle=0x81...")
      ->required()
      ->type_name("URI");
  cmd->add_option("--tcti", o.tcti,
                  "the TPM (tpm2-tss TCTI); default $HWCA_TCTI, else device:/dev/tpmrm0")
      ->type_name("TCTI");
  cmd->add_option("--pin-source", o.pin_source,
                  "the key's password, if it has one: env:NAME or file:PATH")
      ->type_name("SOURCE");
  cmd->add_option("--timeout", o.timeout, "seconds for each network step (default 30)")
      ->check(CLI::Range(1, 600))
      ->type_name("SECONDS");
}

Status check_cert_out(const std::string& path) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (::access(dir.c_str(), W_OK) != 0) {
    return fail(errno == ENOENT ? ErrorKind::not_found : ErrorKind::io,
                "cannot write " + printable(path) + ": " + error_text(errno));
  }
  return {};
}

}  // namespace hwca::node
