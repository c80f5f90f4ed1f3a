// hwca_est_load's nodes (tests/bench/est_load.cpp): each one's client certificate, key and
// request as est_bench.sh makes them (clients/node-I.pem, .key, .csr.b64), and the checks of
// an enrollment's reply: cheap for every 200, full for the first and every Nth.
#pragma once

#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

namespace est_load {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using Pkcs7Ptr = std::unique_ptr<PKCS7, Deleter<PKCS7, PKCS7_free>>;

// Prints "hwca_est_load: MESSAGE" and OpenSSL's errors, and exits 2.
[[noreturn]] void setup_error(const std::string& message);

bool read_file(const std::string& path, std::string& out);

// Base64 with any line breaks (RFC 7030 bodies) to bytes; false if not base64.
bool base64_decode(const std::string& text, std::string& out);

// The cheap check of every 200 of an enrollment: base64 characters, and not nothing.
bool looks_like_base64(const std::string& body);

struct Client {
  std::string name;
  X509Ptr cert;
  PkeyPtr key;
  std::string csr_body;  // base64 of the DER request, sent as is
  PkeyPtr csr_key;       // the request's public key
};

// node-1, node-2, ... of `dir` until one is missing; exits 2 (setup_error) on a bad one.
std::vector<Client> load_clients(const std::string& dir);

// The full check of one enrollment reply. Empty if good, else what is wrong.
std::string verify_enrollment(const std::string& body, const Client& c, X509* ca);

}  // namespace est_load
