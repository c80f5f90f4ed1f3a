#include "ca/spki.hpp"

#include "ca/audit_log.hpp"

namespace hwca::ca {

std::string spki_der(const X509_PUBKEY* spki) {
  unsigned char* der = nullptr;
  int len = spki == nullptr ? -1 : i2d_X509_PUBKEY(spki, &der);
  if (len <= 0) {
    ERR_clear_error();
    return {};
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

std::string spki_sha256(const X509_PUBKEY* spki) {
  std::string der = spki_der(spki);
  return der.empty() ? std::string() : sha256_hex(der);
}

std::string spki_sha256_of_cert(const std::vector<uint8_t>& der) {
  const unsigned char* p = der.data();
  ossl::Ptr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) {
    ERR_clear_error();
    return {};
  }
  return spki_sha256(X509_get_X509_PUBKEY(cert.get()));
}

}  // namespace hwca::ca
