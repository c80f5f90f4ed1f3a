#include "k8s/credential.hpp"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <set>

#include "ca/ca_init.hpp"
#include "ca/certificate_builder.hpp"
#include "ca/dn.hpp"
#include "ca/san.hpp"
#include "common/file_util.hpp"
#include "k8s/kubeconfig.hpp"
#include "k8s/leaf_key.hpp"

namespace hwca::k8s {
namespace {

std::set<std::string> lower_set(const std::vector<std::string>& names) {
  std::set<std::string> out;
  for (auto s : names) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    out.insert(s);
  }
  return out;
}

std::vector<int> cert_ekus(const X509* cert) {
  std::vector<int> out;
  auto* eku =
      static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, nullptr, nullptr));
  for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); ++i) {
    out.push_back(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)));
  }
  EXTENDED_KEY_USAGE_free(eku);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Result<std::string> chain_below_root(const ca::Home& home, const std::string& ca) {
  auto chain = ca::read_ca_chain_pem(home, ca);
  if (!chain) return tl::unexpected(chain.error());
  ossl::Ptr<BIO> bio(BIO_new_mem_buf(chain->data(), static_cast<int>(chain->size())));
  std::vector<std::string> pems;
  while (ossl::Ptr<X509> c{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)}) {
    pems.push_back(ca::cert_pem(c.get()));
  }
  ossl::take_errors();
  std::string out;
  for (size_t i = 0; i + 1 < pems.size(); ++i) out += pems[i];
  return out;
}

Result<ossl::Ptr<X509>> first_certificate(std::string_view pem, const std::string& source) {
  ossl::Ptr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ossl::Ptr<X509> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  ossl::take_errors();
  if (!cert) return fail(ErrorKind::usage, source + " holds no readable certificate");
  return cert;
}

Result<ossl::Ptr<X509>> read_certificate_file(const std::string& path) {
  auto text = read_file(path, 1 << 20);
  if (!text) return tl::unexpected(text.error());
  if (path.size() > 5 && path.compare(path.size() - 5, 5, ".conf") == 0) {
    auto config = parse_kubeconfig(*text, path);
    if (!config) return tl::unexpected(config.error());
    return first_certificate(config->cert_pem, path);
  }
  return first_certificate(*text, path);
}

Result<Credential> read_credential(const std::string& node_dir, const PlannedCert& planned,
                                   const Kubeconfig* frame) {
  Credential c;
  const std::string base = node_dir + "/" + planned.path;
  if (planned.kubeconfig) {
    auto text = read_file(base, 1 << 20);
    if (!text) return tl::unexpected(text.error());
    auto rendered = frame ? match_rendered(*text, *frame) : std::nullopt;
    c.as_rendered = rendered.has_value();
    auto config =
        rendered ? Result<Kubeconfig>(std::move(*rendered)) : parse_kubeconfig(*text, planned.path);
    OPENSSL_cleanse(text->data(), text->size());
    if (!config) return tl::unexpected(config.error());
    c.cert_pem = std::move(config->cert_pem);
    c.key_pem = std::move(config->key_pem);
  } else {
    auto cert = read_file(base + ".crt", 1 << 20);
    if (!cert) return tl::unexpected(cert.error());
    auto key = read_file(base + ".key", 1 << 20);
    if (!key) return tl::unexpected(key.error());
    c.cert_pem = std::move(*cert);
    c.key_pem = SecureString(*key);
    OPENSSL_cleanse(key->data(), key->size());
  }
  auto cert =
      first_certificate(c.cert_pem, planned.kubeconfig ? planned.path : planned.path + ".crt");
  if (!cert) return tl::unexpected(cert.error());
  auto key = parse_private_key(c.key_pem.view(),
                               planned.kubeconfig ? planned.path : planned.path + ".key");
  if (!key) return tl::unexpected(key.error());
  c.cert = std::move(*cert);
  c.key = std::move(*key);
  return c;
}

std::optional<std::string> replace_reason(const Credential& existing, const PlannedCert& planned,
                                          const ca::Profile& profile, const X509* ca,
                                          tokens::KeyType key_type, std::time_t now) {
  const X509* cert = existing.cert.get();
  if (EVP_PKEY_eq(X509_get0_pubkey(cert), existing.key.get()) != 1) {
    return "its key does not match its certificate";
  }
  auto type = key_type_of(existing.key.get());
  if (!type || *type != key_type) {
    return std::string("its key is not ") + tokens::key_type_name(key_type);
  }
  EVP_PKEY* ca_key = X509_get0_pubkey(ca);
  if (X509_check_issued(const_cast<X509*>(ca), const_cast<X509*>(cert)) != X509_V_OK || !ca_key ||
      X509_verify(const_cast<X509*>(cert), ca_key) != 1) {
    ossl::take_errors();
    return std::string("it was not issued by the current ") + ca_role_name(planned.ca);
  }
  if (ca::unix_time(X509_get0_notAfter(cert)) <= now) return "it has expired";
  if (ca::unix_time(X509_get0_notBefore(cert)) > now + ca::kBackdateSeconds) {
    return "it is not valid yet";
  }
  auto cn = ca::name_values(X509_get_subject_name(cert), NID_commonName);
  if (cn.size() != 1 || cn.front() != planned.common_name) return "its common name differs";
  auto groups = ca::name_values(X509_get_subject_name(cert), NID_organizationName);
  if (std::multiset<std::string>(groups.begin(), groups.end()) !=
      std::multiset<std::string>(planned.groups.begin(), planned.groups.end())) {
    return "its groups (O) differ";
  }
  if (lower_set(ca::certificate_sans(cert)) != lower_set(planned.sans)) return "its SANs differ";
  std::vector<int> want = profile.ext_key_usage;
  std::sort(want.begin(), want.end());
  if (cert_ekus(cert) != want) return "its extended key usage differs";
  return std::nullopt;
}

}  // namespace hwca::k8s
