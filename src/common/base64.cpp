#include "common/base64.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <memory>

namespace hwca {

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string clean;
  clean.reserve(text.size());
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) clean.push_back(c);
  }
  if (clean.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') pad = clean[clean.size() - 2] == '=' ? 2 : 1;
  std::string out(clean.size() / 4 * 3, '\0');
  // EVP_DecodeBlock refuses characters outside the alphabet and counts padding as zero
  // bytes, which are taken off here.
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0 || static_cast<size_t>(n) < pad) return std::nullopt;
  if (clean.find('=') != std::string::npos && clean.find('=') < clean.size() - pad) {
    return std::nullopt;
  }
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

}  // namespace hwca
