// Bootstrap token text: making it (RAND_bytes, rejection sampling), reading its id, its
// SHA-256, and the node names it is made for. The text is a secret: no message here
// repeats it, nor any part of it.
#include "ca/bootstrap_token.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace hwca::ca {
namespace {

constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
constexpr unsigned kAlphabetSize = sizeof kAlphabet - 1;  // 36
// The largest multiple of 36 that fits a byte: bytes from 252 up are drawn again, so that
// each of the 36 characters is exactly 7 of the 252 accepted values.
constexpr unsigned kAcceptBelow = 256 / kAlphabetSize * kAlphabetSize;
static_assert(kAlphabetSize == 36 && kAcceptBelow == 252);

bool token_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

Result<TokenText> make_bootstrap_token() {
  constexpr size_t kChars = kTokenIdLength + kTokenSecretLength;
  TokenText out;
  // Reserved up front: the text never moves, so no copy of the secret is left behind.
  out.text.reserve(kChars + 1);
  std::array<unsigned char, 64> random{};
  size_t drawn = 0;
  while (drawn < kChars) {
    if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
      OPENSSL_cleanse(random.data(), random.size());
      OPENSSL_cleanse(out.text.data(), out.text.size());
      return fail(ErrorKind::internal,
                  "the random generator failed while making a bootstrap token (RAND_bytes)");
    }
    for (unsigned char b : random) {
      if (b >= kAcceptBelow) continue;
      if (drawn == kTokenIdLength) out.text.push_back('.');
      out.text.push_back(kAlphabet[b % kAlphabetSize]);
      if (++drawn == kChars) break;
    }
  }
  OPENSSL_cleanse(random.data(), random.size());
  out.id = out.text.substr(0, kTokenIdLength);
  return out;
}

Result<std::string> bootstrap_token_id(std::string_view text) {
  // Each refusal says what is wrong in general terms: never the text, a part of it, or
  // its length.
  const char* const form =
      "; a bootstrap token is 6 characters, '.', and 32 more, all of a-z and 0-9";
  if (text.empty())
    return fail(ErrorKind::usage, std::string("the bootstrap token is empty") + form);
  if (text.size() != kTokenIdLength + 1 + kTokenSecretLength || text[kTokenIdLength] != '.') {
    return fail(ErrorKind::usage, std::string("the bootstrap token is malformed") + form);
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (i != kTokenIdLength && !token_char(text[i])) {
      return fail(ErrorKind::usage,
                  std::string("the bootstrap token holds a character outside a-z and 0-9") + form);
    }
  }
  return std::string(text.substr(0, kTokenIdLength));
}

Sha256 bootstrap_token_hash(std::string_view text) {
  Sha256 out{};
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != out.size()) {
    // A hash that could not be computed must never be stored or compared: a fixed value
    // would match any token. SHA-256 failing means OpenSSL itself is broken.
    std::fputs("hwca: SHA-256 failed (OpenSSL); cannot go on\n", stderr);
    std::abort();
  }
  return out;
}

bool valid_node_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;  // length of the label so far
  char prev = '.';
  for (char c : name) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;  // empty label, or one ending in '-'
      label = 0;
    } else {
      bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (!alnum && c != '-') return false;
      if (label == 0 && c == '-') return false;  // a label starts with a letter or digit
      if (++label > 63) return false;
    }
    prev = c;
  }
  return label != 0 && prev != '-';
}

}  // namespace hwca::ca
