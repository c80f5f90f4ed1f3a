// Text that is safe to print on one line: user input (URIs, paths, labels) reaches error
// messages, and must not split them or send escape sequences to a terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace hwca {

// Control characters (and DEL) become "\xNN"; everything else is kept.
std::string printable(std::string_view text);

// strerror() that is safe to call from several threads.
std::string error_text(int err);

// Bytes as lower-case hex, two digits each ("01ab").
std::string hex_text(const unsigned char* data, size_t len);

// A Unix time as "2026-11-28 12:00:00Z" (UTC).
std::string utc_text(long long unix_seconds);

}  // namespace hwca
