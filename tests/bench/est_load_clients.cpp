// hwca_est_load's nodes and the checks of its replies (est_load_clients.hpp).
#include "est_load_clients.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace est_load {

[[noreturn]] void setup_error(const std::string& message) {
  std::cerr << "hwca_est_load: " << message << "\n";
  ERR_print_errors_fp(stderr);
  std::exit(2);
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return true;
}

bool base64_decode(const std::string& text, std::string& out) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text) {
    if (c != '\r' && c != '\n' && c != ' ' && c != '\t') compact.push_back(c);
  }
  if (compact.empty() || compact.size() % 4 != 0) return false;
  out.assign(compact.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(compact.data()),
                          static_cast<int>(compact.size()));
  if (n < 0) return false;
  size_t pad = 0;
  if (compact.back() == '=') ++pad;
  if (compact.size() >= 2 && compact[compact.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return true;
}

bool looks_like_base64(const std::string& body) {
  size_t chars = 0;
  for (unsigned char c : body) {
    if (std::isalnum(c) || c == '+' || c == '/' || c == '=') {
      ++chars;
    } else if (c != '\r' && c != '\n') {
      return false;
    }
  }
  return chars >= 4;
}

std::vector<Client> load_clients(const std::string& dir) {
  std::vector<Client> out;
  for (int i = 1;; ++i) {
    const std::string base = dir + "/node-" + std::to_string(i);
    std::string pem;
    if (!read_file(base + ".pem", pem)) break;
    Client c;
    c.name = "node-" + std::to_string(i);
    {
      BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
      c.cert.reset(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
      BIO_free(bio);
    }
    std::string key_pem;
    if (read_file(base + ".key", key_pem)) {
      BIO* bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
      c.key.reset(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
      BIO_free(bio);
      OPENSSL_cleanse(key_pem.data(), key_pem.size());
    }
    if (!c.cert || !c.key) setup_error(base + ".pem or .key is missing or not PEM");
    if (X509_check_private_key(c.cert.get(), c.key.get()) != 1) {
      setup_error(base + ".key is not the key of " + base + ".pem");
    }
    if (!read_file(base + ".csr.b64", c.csr_body)) setup_error(base + ".csr.b64 is missing");
    std::string der;
    if (!base64_decode(c.csr_body, der)) setup_error(base + ".csr.b64 is not base64");
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
    ReqPtr req(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
    if (!req) setup_error(base + ".csr.b64 does not hold a DER PKCS#10 request");
    c.csr_key.reset(X509_REQ_get_pubkey(req.get()));
    if (!c.csr_key || X509_REQ_verify(req.get(), c.csr_key.get()) != 1) {
      setup_error(base + ".csr.b64: the request's signature does not verify");
    }
    out.push_back(std::move(c));
  }
  if (out.empty()) setup_error("no " + dir + "/node-1.pem: --clients names no client");
  return out;
}

std::string verify_enrollment(const std::string& body, const Client& c, X509* ca) {
  std::string der;
  if (!base64_decode(body, der)) return "the reply is not base64";
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  Pkcs7Ptr p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der.size())));
  if (!p7) return "the reply is not a DER PKCS#7";
  if (!PKCS7_type_is_signed(p7.get()) || p7->d.sign == nullptr) {
    return "the reply is not a PKCS#7 SignedData";
  }
  STACK_OF(X509)* certs = p7->d.sign->cert;
  if (certs == nullptr || sk_X509_num(certs) != 1) {
    return "the reply holds " + std::to_string(certs ? sk_X509_num(certs) : 0) +
           " certificates, not 1";
  }
  X509* cert = sk_X509_value(certs, 0);
  if (X509_NAME_cmp(X509_get_subject_name(cert), X509_get_subject_name(c.cert.get())) != 0) {
    return "the certificate's subject is not the client certificate's";
  }
  EVP_PKEY* pub = X509_get0_pubkey(cert);
  if (pub == nullptr || EVP_PKEY_eq(pub, c.csr_key.get()) != 1) {
    return "the certificate's public key is not the request's";
  }
  if (X509_check_issued(ca, cert) != X509_V_OK) return "the certificate is not issued by --ca";
  if (X509_verify(cert, X509_get0_pubkey(ca)) != 1) {
    return "the certificate's signature does not verify with --ca's key";
  }
  if (ASN1_INTEGER_cmp(X509_get0_serialNumber(cert), X509_get0_serialNumber(c.cert.get())) == 0) {
    return "the certificate has the serial number of the client certificate";
  }
  if (X509_check_purpose(cert, X509_PURPOSE_SSL_CLIENT, 0) != 1) {
    return "the certificate is not for TLS client authentication";
  }
  return {};
}

}  // namespace est_load
