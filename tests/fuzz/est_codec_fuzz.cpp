// What an EST client's bytes go through before the service looks at them (src/est/
// est_codec.hpp, src/common/base64.hpp), each decoder over the whole input: base64, the
// PKCS#10 request body, the certs-only body (what the node agent reads from a server), the
// Basic Authorization header and the Content-Type check. Beyond not crashing: base64 gives
// back what it encoded, and a request body that decodes has a key and verifies.
#include <openssl/err.h>
#include <openssl/x509.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/base64.hpp"
#include "est/est_codec.hpp"
#include "fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using hwca::fuzz::check;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto decoded = hwca::base64_decode(text);
  auto round = hwca::base64_decode(hwca::base64_encode(text));
  check(round && *round == text, "base64_decode(base64_encode(x)) != x");
  if (decoded) {
    auto again = hwca::base64_decode(hwca::base64_encode(*decoded));
    check(again && *again == *decoded, "base64 does not round-trip what it decoded");
  }

  if (auto req = hwca::est::decode_pkcs10_body(text, nullptr)) {
    EVP_PKEY* key = X509_REQ_get0_pubkey(req->get());
    check(key != nullptr, "a decoded request without a public key");
    check(X509_REQ_verify(req->get(), key) == 1, "a decoded request that does not verify");
  }
  if (auto certs = hwca::est::decode_certs_only_body(text)) {
    for (const auto& cert : *certs)
      check(cert != nullptr, "a null certificate in a certs-only body");
  }
  if (auto basic = hwca::est::parse_basic_authorization(text)) {
    check(basic->user.find(':') == std::string::npos, "a Basic user name holding ':'");
  }
  hwca::est::is_media_type(text, hwca::est::kPkcs10Type);
  hwca::est::is_media_type(text, "application/json");
  ERR_clear_error();
  return 0;
}
