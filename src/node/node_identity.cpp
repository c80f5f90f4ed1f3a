#include "node/node_identity.hpp"

#include <openssl/x509v3.h>

#include "attest/tpm_public.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/dn.hpp"
#include "ca/spki.hpp"
#include "common/text.hpp"
#include "k8s/leaf_key.hpp"
#include "tokens/registry.hpp"

namespace hwca::node {
Result<ossl::Ptr<EVP_PKEY>> load_or_create_key(const ca::CryptoContext& crypto,
                                               const std::string& uri,
                                               const tokens::OpenOptions& options, bool* created) {
  *created = false;
  auto key = crypto.load_private_key(uri, options);
  if (key || key.error().kind != ErrorKind::not_found) return key;
  auto store = tokens::open_store(uri, options);
  if (!store) return tl::unexpected(store.error());
  auto made = (*store)->create_key({uri, tokens::KeyType::ec_p256});
  if (!made) return wrap(made.error(), "cannot make the node key " + uri);
  *created = true;
  return crypto.load_private_key(uri, options);
}

Result<std::string> node_request(OSSL_LIB_CTX* libctx, EVP_PKEY* key, const std::string& node,
                                 const std::vector<std::string>& sans) {
  return k8s::make_csr_der(libctx, key, "system:node:" + node, {"system:nodes"}, sans);
}

Status check_issued(const X509* cert, const EVP_PKEY* key, const std::string& node,
                    const std::string& ca_file) {
  if (EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) {
    ERR_clear_error();
    return fail(ErrorKind::usage, "the certificate the server returned is not for the node's key");
  }
  const X509_NAME* subject = X509_get_subject_name(cert);
  auto cn = ca::name_values(subject, NID_commonName);
  auto o = ca::name_values(subject, NID_organizationName);
  if (cn != std::vector<std::string>{"system:node:" + node} ||
      o != std::vector<std::string>{"system:nodes"}) {
    return fail(ErrorKind::usage, "the certificate the server returned is for '" +
                                      printable(ca::dn_text(subject)) + "', not node '" + node +
                                      "'");
  }
  auto cas = ca::read_pem_certificates(ca_file);
  if (!cas) return tl::unexpected(cas.error());
  ossl::Ptr<X509_STORE> store(X509_STORE_new());
  for (const auto& c : *cas) {
    if (store) X509_STORE_add_cert(store.get(), c.get());
  }
  ossl::Ptr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!store || !ctx ||
      X509_STORE_CTX_init(ctx.get(), store.get(), const_cast<X509*>(cert), nullptr) != 1) {
    return fail(ErrorKind::internal,
                "cannot set up certificate verification: " + ossl::take_errors());
  }
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_PARTIAL_CHAIN);
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return fail(ErrorKind::usage, std::string("the certificate the server returned does not "
                                              "verify against ") +
                                      printable(ca_file) + ": " +
                                      X509_verify_cert_error_string(err));
  }
  return {};
}

std::time_t renewal_time(const X509* cert) {
  std::time_t from = ca::unix_time(X509_get0_notBefore(cert));
  std::time_t to = ca::unix_time(X509_get0_notAfter(cert));
  return from + (to - from) * 2 / 3;
}

Result<ossl::Ptr<X509>> read_certificate(const std::string& path) {
  auto certs = ca::read_pem_certificates(path);
  if (!certs) return tl::unexpected(certs.error());
  return std::move(certs->front());
}

Result<EkIdentity> ek_identity(const tokens::tpm2::EkInfo& ek) {
  EkIdentity out;
  ossl::Ptr<EVP_PKEY> key;
  if (!ek.certificate.empty()) {
    const unsigned char* p = ek.certificate.data();
    ossl::Ptr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(ek.certificate.size())));
    if (!cert) {
      return fail(ErrorKind::device, "the EK certificate in the TPM's NV is not a certificate: " +
                                         ossl::take_errors());
    }
    out.pem = ca::cert_pem(cert.get());
    out.certificate = true;
    key.reset(X509_get_pubkey(cert.get()));
  } else {
    auto pub = attest::parse_public(ek.public_area);
    if (!pub) return fail(ErrorKind::device, "the EK's public area: " + pub.error().message);
    auto k = attest::public_key(pub->area);
    if (!k) return fail(ErrorKind::device, "the EK's public key: " + k.error().message);
    auto pem = ossl::public_key_pem(k->get());
    if (!pem) return tl::unexpected(pem.error());
    out.pem = std::move(*pem);
    key = std::move(*k);
  }
  // The key's SubjectPublicKeyInfo in OpenSSL's encoding, whichever way the certificate
  // wrote it: what the CA computes from what the node sends.
  X509_PUBKEY* spki = nullptr;
  if (key && X509_PUBKEY_set(&spki, key.get()) == 1) out.spki_sha256 = ca::spki_sha256(spki);
  X509_PUBKEY_free(spki);
  if (out.spki_sha256.empty()) {
    return fail(ErrorKind::internal, "cannot encode the EK's public key: " + ossl::take_errors());
  }
  return out;
}

}  // namespace hwca::node
