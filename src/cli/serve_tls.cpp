#include "cli/serve_tls.hpp"

#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "ca/ca_init.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/san.hpp"
#include "cli/token_keys.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"
#include "common/uri.hpp"
#include "k8s/leaf_key.hpp"

namespace hwca::cli {
namespace {

constexpr const char* kTlsKeyType = "ec-p256";

std::string kept_cert_path(const ca::Home& home, const std::string& ca_name) {
  return home.path("cas/" + ca_name + "/est-tls.pem");
}

// Keeps the certificate for the next start, in the CA's folder (made if missing: a CA of a
// shared database has none in this home).
Status keep_certificate(const ca::Home& home, const std::string& ca_name, const X509* cert) {
  if (auto made = home.make_ca_folder(ca_name); !made) return tl::unexpected(made.error());
  return write_file_atomic(kept_cert_path(home, ca_name), ca::cert_pem(cert), 0644);
}

// The first 8 hex digits of the SHA-256 of the CA's SubjectPublicKeyInfo.
Result<std::string> ca_key_tag(const X509* ca_cert) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(X509_get0_pubkey(ca_cert), &der);
  if (len <= 0) return fail(ErrorKind::internal, "cannot encode the CA's public key");
  std::string digest = ca::sha256_hex(std::string_view(reinterpret_cast<char*>(der), len));
  OPENSSL_free(der);
  return digest.substr(0, 8);
}

Result<ossl::Ptr<EVP_PKEY>> load_or_make_tls_key(const Context& ctx,
                                                 const ca::CryptoContext& crypto,
                                                 const std::string& uri, bool* made) {
  auto key = crypto.load_private_key(uri, ctx.open_options());
  if (key || key.error().kind != ErrorKind::not_found) return key;
  auto generated = generate_key(ctx, uri, kTlsKeyType);
  if (!generated) return wrap(generated.error(), "cannot make the server's TLS key " + uri);
  *made = true;
  return crypto.load_private_key(uri, ctx.open_options());
}

// Why the certificate kept from an earlier start cannot serve this one; empty if it can.
std::string why_not_reuse(const X509* cert, EVP_PKEY* key, const X509* ca_cert,
                          std::vector<std::string> sans, ca::IssuanceStore& store,
                          const std::string& ca_name) {
  if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) return "is for another key";
  if (X509_check_issued(const_cast<X509*>(ca_cert), const_cast<X509*>(cert)) != X509_V_OK ||
      X509_verify(const_cast<X509*>(cert), X509_get0_pubkey(ca_cert)) != 1) {
    return "was not issued by CA '" + ca_name + "'";
  }
  const std::time_t now = std::time(nullptr);
  const std::time_t from = ca::unix_time(X509_get0_notBefore(cert));
  const std::time_t to = ca::unix_time(X509_get0_notAfter(cert));
  if (now < from || now >= from + (to - from) / 3 * 2) return "is due for renewal";
  auto record = store.find(ca_name, ca::serial_hex(X509_get0_serialNumber(cert)));
  if (!record || !*record || (*record)->der != ca::cert_der(cert)) {
    return "is not in the issuance database";
  }
  if ((*record)->revoked) return "is revoked";
  std::vector<std::string> held = (*record)->sans;
  std::sort(held.begin(), held.end());
  std::sort(sans.begin(), sans.end());
  if (held != sans) return "is for other names";
  return "";
}

// The certificate kept by an earlier start, if it can serve again; else nullptr and `why`.
ossl::Ptr<X509> kept_certificate(const std::string& path, EVP_PKEY* key, const X509* ca_cert,
                                 const std::vector<std::string>& sans, ca::IssuanceStore& store,
                                 const std::string& ca_name, std::string& why) {
  if (::access(path.c_str(), F_OK) != 0) return nullptr;
  auto certs = ca::read_pem_certificates(path);
  if (!certs) {
    why = "cannot be read (" + certs.error().message + ")";
    return nullptr;
  }
  why = why_not_reuse(certs->front().get(), key, ca_cert, sans, store, ca_name);
  return why.empty() ? std::move(certs->front()) : nullptr;
}

Result<ossl::Ptr<X509>> issue_tls_certificate(const ca::CryptoContext& crypto, ca::Issuer& issuer,
                                              EVP_PKEY* key, const TlsOptions& options,
                                              const std::vector<std::string>& sans) {
  auto csr = k8s::make_csr_der(crypto.libctx(), key, options.sans.front(), {}, sans);
  if (!csr) return tl::unexpected(csr.error());
  ca::SignRequest request;
  request.csr = std::move(*csr);
  request.source = "the EST server's TLS request";
  request.profile = "server";
  request.days = options.days;
  request.requester = "serve:uid=" + std::to_string(::getuid());
  auto issued = issuer.issue(request);
  if (!issued) return wrap(issued.error(), "cannot issue the server's TLS certificate");
  return std::move(issued->cert);
}

// A certificate from its DER, so that TLS decodes its public key afresh in the process's
// library context.
Result<ossl::Ptr<X509>> redecoded(const X509* cert) {
  const auto der = ca::cert_der(cert);
  const unsigned char* p = der.data();
  ossl::Ptr<X509> out(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!out) return fail(ErrorKind::internal, "cannot decode the server's TLS certificate");
  return out;
}

Result<est::TlsIdentity> given_identity(const Context& ctx, const TlsOptions& options,
                                        const ca::CryptoContext& crypto, est::TlsIdentity id,
                                        std::string& note) {
  auto certs = ca::read_pem_certificates(options.cert);
  if (!certs) return tl::unexpected(certs.error());
  id.cert = std::move(certs->front());
  for (size_t i = 1; i < certs->size(); ++i) id.chain.push_back(std::move((*certs)[i]));
  if (!uri_scheme(options.key).empty()) {
    auto key = crypto.load_private_key(options.key, ctx.open_options());
    if (!key) return tl::unexpected(key.error());
    id.key = std::move(*key);
  } else {
    auto pem = read_file(options.key);
    if (!pem) return tl::unexpected(pem.error());
    auto key = k8s::parse_private_key(*pem, options.key);
    OPENSSL_cleanse(pem->data(), pem->size());
    if (!key) return tl::unexpected(key.error());
    id.key = std::move(*key);
  }
  note = "TLS certificate from " + options.cert;
  return id;
}

}  // namespace

Result<std::vector<ossl::Ptr<X509>>> ca_chain(const ca::Home& home, const std::string& name) {
  std::vector<ossl::Ptr<X509>> out;
  for (std::string n = name; !n.empty(); n = home.config().cas.at(n).parent) {
    auto cert = ca::load_ca_cert(home, n);
    if (!cert) return tl::unexpected(cert.error());
    out.push_back(std::move(*cert));
  }
  return out;
}

Result<std::string> default_tls_key_uri(const ca::Home& home, const std::string& ca_name,
                                        const X509* ca_cert) {
  const std::string& ca_key = home.config().cas.at(ca_name).key;
  auto uri = parse_uri(ca_key);
  if (!uri) return tl::unexpected(uri.error());
  if (uri->scheme == "tpm2") {
    return "tpm2:file=" + home.path("cas/" + ca_name + "/est-tls.tpmkey");
  }
  auto tag = ca_key_tag(ca_cert);
  if (!tag) return tl::unexpected(tag.error());
  Uri tls = *uri;
  tls.path.clear();
  for (const auto& [name, value] : uri->path) {
    if (name != "object" && name != "id" && name != "type") tls.path.emplace_back(name, value);
  }
  tls.path.emplace_back("object", ca_name + "-est-tls-" + *tag);
  return format_uri(tls);
}

Result<est::TlsIdentity> tls_identity(const Context& ctx, const TlsOptions& options,
                                      const ca::Home& home, const ca::CryptoContext& crypto,
                                      ca::IssuanceStore& store, ca::Issuer& issuer,
                                      std::string& note) {
  est::TlsIdentity id;
  auto chain = ca_chain(home, issuer.ca_name());
  if (!chain) return tl::unexpected(chain.error());
  id.client_ca.reset(X509_dup(chain->front().get()));
  if (!options.cert.empty()) return given_identity(ctx, options, crypto, std::move(id), note);

  auto uri = default_tls_key_uri(home, issuer.ca_name(), issuer.ca_cert());
  if (!uri) return tl::unexpected(uri.error());
  bool made = false;
  auto key = load_or_make_tls_key(ctx, crypto, *uri, &made);
  if (!key) return tl::unexpected(key.error());
  std::vector<std::string> sans;
  for (const auto& name : options.sans) {
    auto san = ca::parse_san("IP:" + name, {});
    if (!san) san = ca::parse_san("DNS:" + name, {});
    if (!san) return wrap(san.error(), "--tls-san");
    sans.push_back(san->text());
  }
  const std::string path = kept_cert_path(home, issuer.ca_name());
  std::string why_new;
  ossl::Ptr<X509> cert =
      kept_certificate(path, key->get(), issuer.ca_cert(), sans, store, issuer.ca_name(), why_new);
  const bool reused = cert != nullptr;
  if (!reused) {
    auto issued = issue_tls_certificate(crypto, issuer, key->get(), options, sans);
    if (!issued) return tl::unexpected(issued.error());
    cert = std::move(*issued);
    if (auto kept = keep_certificate(home, issuer.ca_name(), cert.get()); !kept) {
      std::cerr << "hwca serve: warning: cannot keep the TLS certificate for the next start: "
                << kept.error().message << "\n";
    }
  }
  auto decoded = redecoded(cert.get());
  if (!decoded) return tl::unexpected(decoded.error());
  id.cert = std::move(*decoded);
  for (auto& c : *chain) id.chain.push_back(std::move(c));
  id.key = std::move(*key);
  std::string names;
  for (const auto& s : options.sans) names += (names.empty() ? "" : ", ") + s;
  note = "TLS certificate " + ca::serial_hex(X509_get0_serialNumber(id.cert.get())) + " for " +
         names + ", key " + *uri + (made ? " (made now)" : "") +
         (reused            ? ", kept from the last start"
          : why_new.empty() ? ", issued now"
                            : ", issued now: the kept one " + why_new);
  return id;
}

}  // namespace hwca::cli
