// Key URIs as a user, a config file or an OpenSSL caller hands them over: the RFC 7512 parser
// (common/uri.hpp) and the two schemes on top of it (pkcs11:, tpm2:). Beyond not crashing:
// a URI that parses formats back to text that parses to the same URI, and a pin-value is
// never kept.
#include <cstdint>
#include <string_view>

#include "common/uri.hpp"
#include "fuzz/fuzz_input.hpp"
#include "tokens/pkcs11/pkcs11_uri.hpp"
#include "tokens/tpm2/tpm2_uri.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using hwca::fuzz::check;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  hwca::uri_scheme(text);
  if (auto uri = hwca::parse_uri(text)) {
    const std::string formatted = hwca::format_uri(*uri);
    auto again = hwca::parse_uri(formatted);
    check(again.has_value(), "format_uri gave text parse_uri refuses");
    check(again->scheme == uri->scheme && again->path == uri->path && again->query == uri->query,
          "parse_uri(format_uri(u)) differs from u");
  }
  if (auto p11 = hwca::tokens::pkcs11::parse_pkcs11_uri(text)) {
    (void)p11->selects_object();
  }
  if (auto tpm = hwca::tokens::tpm2::parse_tpm2_uri(text)) {
    check(tpm->file.has_value() != tpm->handle.has_value(), "tpm2: URI with both or neither");
    if (tpm->handle) {
      auto again = hwca::tokens::tpm2::parse_tpm2_uri(hwca::tokens::tpm2::format_tpm2_uri(*tpm));
      check(again && again->handle == tpm->handle, "format_tpm2_uri(handle) does not parse back");
    }
  }
  return 0;
}
