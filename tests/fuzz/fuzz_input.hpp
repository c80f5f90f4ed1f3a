// What the fuzz targets share: the framing that splits one input into parts the fuzzer
// mutates one by one, and the check that stops a run when an invariant breaks.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

namespace hwca::fuzz {

// Parts are separated by a line "~~~": "GET\n~~~\n/path\n~~~\n..." (readable in seeds, and
// rare enough in base64, DER and TPM structures to leave them whole).
inline constexpr std::string_view kSeparator = "\n~~~\n";

// The first `count` parts of the input (missing ones empty); the last takes the rest.
inline std::vector<std::string_view> parts(const uint8_t* data, size_t size, size_t count) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> out;
  while (out.size() + 1 < count) {
    size_t at = rest.find(kSeparator);
    if (at == std::string_view::npos) break;
    out.push_back(rest.substr(0, at));
    rest.remove_prefix(at + kSeparator.size());
  }
  out.push_back(rest);
  out.resize(count);
  return out;
}

inline std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// An invariant broke: say which, and stop as a crash would (libFuzzer keeps the input).
[[noreturn]] inline void broken(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::fflush(stderr);
  __builtin_trap();
}

inline void check(bool ok, const char* what) {
  if (!ok) broken(what);
}

}  // namespace hwca::fuzz
