// Text that is safe to print on one line: user input (URIs, paths, labels) reaches error
// messages, and must not split them or send escape sequences to a terminal.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hwca {

// Control characters (and DEL) become "\xNN"; everything else is kept.
std::string printable(std::string_view text);

// Text from a client, for an audit line or a reply: printable ASCII only (every other byte,
// control, DEL or not ASCII, becomes "\xNN" as in printable()), and at most `max` characters
// of it; what is cut is replaced by a marker that says how much ("...[7000 more bytes]").
// So an attacker's string costs a log line at most `max` + 24 characters, and stays valid
// UTF-8 for the JSON of the audit log.
std::string bounded(std::string_view text, size_t max = 128);

// Where the first byte that is not well-formed UTF-8 (RFC 3629: no overlong form, no
// surrogate, nothing above U+10FFFF) starts, or npos when all of `text` is UTF-8.
size_t invalid_utf8_at(std::string_view text);

// strerror() that is safe to call from several threads.
std::string error_text(int err);

// Bytes as lower-case hex, two digits each ("01ab").
std::string hex_text(const unsigned char* data, size_t len);

// A Unix time as "2026-11-28 12:00:00Z" (UTC).
std::string utc_text(long long unix_seconds);

// The items with `sep` between them ("a, b, c").
std::string join(const std::vector<std::string>& items, std::string_view sep = ", ");

// The same in RFC 3339: "2026-11-28T12:00:00Z" (the documents of -o json|yaml).
std::string rfc3339_text(long long unix_seconds);

}  // namespace hwca
