// A CA home's config.yaml with its profiles (src/ca/home.hpp, src/ca/profile_yaml.hpp): any
// text parses or is refused with a message, no YAML exception escapes, and what parses is
// written back (emit_config) as text that parses again to the same text.
#include <cstdint>
#include <string>

#include "ca/home.hpp"
#include "fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using hwca::fuzz::check;
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = hwca::ca::parse_config(text, "config.yaml");
  if (!config) {
    check(!config.error().message.empty(), "a refusal without a message");
    return 0;
  }
  const std::string emitted = hwca::ca::emit_config(*config);
  auto again = hwca::ca::parse_config(emitted, "config.yaml (written back)");
  check(again.has_value(), "emit_config wrote a config.yaml parse_config refuses");
  check(
      again->cas.size() == config->cas.size() && again->profiles.size() == config->profiles.size(),
      "config.yaml written back has other CAs or profiles");
  check(hwca::ca::emit_config(*again) == emitted, "emit_config is not stable");
  return 0;
}
