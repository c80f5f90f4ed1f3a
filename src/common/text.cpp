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
