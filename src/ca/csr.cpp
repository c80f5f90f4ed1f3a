#include "ca/csr.hpp"

#include <openssl/pem.h>

#include <cctype>
#include <cstring>

#include "ca/csr_fast_path.hpp"

namespace hwca::ca {
namespace {

bool only_space(std::string_view s) {
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) == 0) return false;
  }
  return true;
}

std::string_view trim_front(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  return s;
}

// The DER inside a PEM block, after checking its label and that nothing follows it.
Result<std::string> pem_body(std::string_view text, const std::string& source) {
  ossl::Ptr<BIO> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  char* name = nullptr;
  char* header = nullptr;
  unsigned char* data = nullptr;
  long len = 0;
  if (!bio || PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
    ERR_clear_error();
    return fail(ErrorKind::usage, source + " is not valid PEM (truncated or damaged)");
  }
  std::string label = name;
  std::string der(reinterpret_cast<char*>(data), static_cast<size_t>(len));
  OPENSSL_free(name);
  OPENSSL_free(header);
  OPENSSL_free(data);
  if (label != "CERTIFICATE REQUEST" && label != "NEW CERTIFICATE REQUEST") {
    return fail(ErrorKind::usage,
                source + " holds a PEM \"" + label + "\", not a \"CERTIFICATE REQUEST\"");
  }
  char* rest = nullptr;
  long rest_len = BIO_get_mem_data(bio.get(), &rest);
  std::string_view after(rest, static_cast<size_t>(rest_len));
  if (after.find("-----BEGIN ") != std::string_view::npos) {
    return fail(ErrorKind::usage, source + " holds more than one request");
  }
  if (!only_space(after)) return fail(ErrorKind::usage, source + " has text after the request");
  return der;
}

}  // namespace

Result<ossl::Ptr<X509_REQ>> parse_csr(std::string_view data, const std::string& source,
                                      OSSL_LIB_CTX* libctx) {
  if (data.size() > kMaxCsrBytes) {
    return fail(ErrorKind::usage,
                source + " is larger than " + std::to_string(kMaxCsrBytes / 1024) + " KiB");
  }
  std::string der;
  std::string_view start = trim_front(data);
  if (start.substr(0, 11) == "-----BEGIN ") {
    auto body = pem_body(data, source);
    if (!body) return tl::unexpected(body.error());
    der = std::move(*body);
  } else {
    der.assign(data.data(), data.size());
  }
  if (der.empty()) return fail(ErrorKind::usage, source + " is empty");
  // Most requests are taken whole by the fast path; it refuses none (csr_fast_path.hpp).
  if (ossl::Ptr<X509_REQ> fast = parse_named_curve_request(der, libctx)) return fast;
  // d2i frees the object it was given when decoding fails (and sets `out` to NULL): own
  // the result only after the call.
  X509_REQ* out = X509_REQ_new_ex(libctx, ossl::kDefaultProps);
  auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const bool decoded =
      out != nullptr && d2i_X509_REQ(&out, &p, static_cast<long>(der.size())) != nullptr;
  ossl::Ptr<X509_REQ> req(out);
  if (!decoded) {
    ERR_clear_error();
    return fail(ErrorKind::usage, source + " is not a certificate request (garbage or truncated)");
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return fail(ErrorKind::usage, source + " has bytes after the request");
  }
  if (X509_REQ_get_version(req.get()) != X509_REQ_VERSION_1) {
    return fail(ErrorKind::usage, source + " has an unknown request version");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) {
    ERR_clear_error();
    return fail(ErrorKind::usage, source + " holds a public key hwca cannot read");
  }
  if (X509_REQ_verify_ex(req.get(), key, libctx, ossl::kDefaultProps) != 1) {
    ERR_clear_error();
    return fail(ErrorKind::usage,
                source + ": the request's signature does not verify with its own key");
  }
  return req;
}

}  // namespace hwca::ca
