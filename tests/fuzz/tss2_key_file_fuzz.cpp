// "TSS2 PRIVATE KEY" files (tokens/tpm2/key_file.hpp), PEM or DER, parsed without a TPM: any
// bytes parse or are refused with a message; a file that parses is written back (PEM) as one
// that parses to the same public area, private blob and parent.
#include <cstdint>
#include <cstring>
#include <string_view>

#include "fuzz/fuzz_input.hpp"
#include "tokens/tpm2/key_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using hwca::fuzz::check;
  namespace tpm2 = hwca::tokens::tpm2;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto key = tpm2::parse_key_file(text, "key.tpm");
  if (!key) {
    check(!key.error().message.empty(), "a refusal without a message");
    return 0;
  }
  auto pem = tpm2::key_file_pem(*key);
  check(pem.has_value(), "a key file that parses cannot be written back");
  auto again = tpm2::parse_key_file(*pem, "key.tpm (written back)");
  check(again.has_value(), "key_file_pem wrote a file parse_key_file refuses");
  check(again->parent == key->parent && again->empty_auth == key->empty_auth,
        "parent or emptyAuth changed on the way back");
  check(again->priv.size == key->priv.size &&
            std::memcmp(again->priv.buffer, key->priv.buffer, key->priv.size) == 0,
        "the private blob changed on the way back");
  check(again->pub.size == key->pub.size, "the public area changed size on the way back");
  return 0;
}
