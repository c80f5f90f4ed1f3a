#include "common/text.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>

namespace hwca {

std::string printable(std::string_view text) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

size_t invalid_utf8_at(std::string_view text) {
  const auto* b = reinterpret_cast<const unsigned char*>(text.data());
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = b[i];
    size_t extra = c < 0x80                 ? 0
                   : c >= 0xc2 && c <= 0xdf ? 1
                   : c >= 0xe0 && c <= 0xef ? 2
                   : c >= 0xf0 && c <= 0xf4 ? 3
                                            : 4;
    if (extra == 4 || text.size() - i <= extra) return i;  // not a lead byte, or cut short
    // The second byte's range excludes the overlong forms, the surrogates and > U+10FFFF.
    unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    for (size_t k = 1; k <= extra; ++k) {
      unsigned char cont = b[i + k];
      if (cont < (k == 1 ? lo : 0x80) || cont > (k == 1 ? hi : 0xbf)) return i;
    }
    i += extra + 1;
  }
  return std::string_view::npos;
}

std::string bounded(std::string_view text, size_t max) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(std::min(text.size(), max) + 24);
  size_t i = 0;
  for (; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool plain = c >= 0x20 && c < 0x7f;
    if (out.size() + (plain ? 1 : 4) > max) break;
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  if (i < text.size()) out += "...[" + std::to_string(text.size() - i) + " more bytes]";
  return out;
}

std::string error_text(int err) {
  char buf[256];
  return strerror_r(err, buf, sizeof buf);  // the GNU version returns the text
}

std::string utc_text(long long unix_seconds) {
  auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

std::string rfc3339_text(long long unix_seconds) {
  std::string s = utc_text(unix_seconds);
  s[10] = 'T';
  return s;
}

std::string hex_text(const unsigned char* data, size_t len) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (size_t i = 0; i < len; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 15]);
  }
  return out;
}

}  // namespace hwca
