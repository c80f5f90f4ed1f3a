// Reading a certificate signing request (PKCS#10): PEM with the label "CERTIFICATE REQUEST"
// (or the older "NEW CERTIFICATE REQUEST") or DER, at most kMaxCsrBytes, exactly one request
// and nothing after it. Its own signature is checked with its public key.
#pragma once

#include <string>
#include <string_view>

#include "common/ossl.hpp"
#include "common/result.hpp"

namespace hwca::ca {

inline constexpr size_t kMaxCsrBytes = 64 * 1024;

// `source` names the input in errors ("req.pem", "request 3"). Every error is a usage error.
Result<ossl::Ptr<X509_REQ>> parse_csr(std::string_view data, const std::string& source,
                                      OSSL_LIB_CTX* libctx);

}  // namespace hwca::ca
