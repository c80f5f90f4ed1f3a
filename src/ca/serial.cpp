#include "ca/serial.hpp"

#include <openssl/rand.h>

#include <cctype>
#include <string_view>

#include "common/text.hpp"

namespace hwca::ca {

Result<Serial> Serial::random() {
  Serial s;
  if (RAND_priv_bytes(s.octets_.data(), static_cast<int>(s.octets_.size())) != 1) {
    return fail(ErrorKind::internal, "no randomness for a serial number: " + ossl::take_errors());
  }
  s.octets_[0] &= 0x7f;  // positive
  s.octets_[0] |= 0x40;  // and no leading zero octet: always exactly 20 octets
  return s;
}

Result<Serial> Serial::from_hex(const std::string& hex) {
  if (hex.size() != 2 * kOctets) {
    return fail(ErrorKind::usage, "a serial number is " + std::to_string(2 * kOctets) +
                                      " hex digits, not " + std::to_string(hex.size()));
  }
  Serial s;
  for (size_t i = 0; i < kOctets; ++i) {
    int v = 0;
    for (int k = 0; k < 2; ++k) {
      char c = hex[2 * i + static_cast<size_t>(k)];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return fail(ErrorKind::usage, "a serial number is written in hex digits");
      v = v * 16 + d;
    }
    s.octets_[i] = static_cast<uint8_t>(v);
  }
  if ((s.octets_[0] & 0x80) != 0) {
    return fail(ErrorKind::usage, "a serial number is positive (first octet below 80)");
  }
  return s;
}

std::string Serial::hex() const { return hex_text(octets_.data(), octets_.size()); }

std::string serial_hex(const ASN1_INTEGER* serial) {
  const uint8_t* data = ASN1_STRING_get0_data(serial);
  auto len = static_cast<size_t>(ASN1_STRING_length(serial));
  // The content octets carry a leading zero when the magnitude's top bit is set.
  std::string pad = len > 0 && (data[0] & 0x80) != 0 ? "00" : "";
  return pad + hex_text(data, len);
}

ossl::Ptr<ASN1_INTEGER> Serial::to_asn1() const {
  ossl::Ptr<BIGNUM> bn(BN_bin2bn(octets_.data(), static_cast<int>(octets_.size()), nullptr));
  if (!bn) return nullptr;
  return ossl::Ptr<ASN1_INTEGER>(BN_to_ASN1_INTEGER(bn.get(), nullptr));
}

std::string serial_label(const std::string& typed, const std::string& key) {
  std::string_view rest = typed;
  if (rest.size() > 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X'))
    rest.remove_prefix(2);
  std::string digits;
  for (char c : rest) {
    if (c != ':') digits.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (digits == key) return key;
  return printable(typed) + " (stored as " + key + ")";
}

Result<std::string> normalise_serial(const std::string& text) {
  std::string hex;
  std::string_view rest = text;
  if (rest.size() > 2 && rest[0] == '0' && (rest[1] == 'x' || rest[1] == 'X'))
    rest.remove_prefix(2);
  bool ok = !rest.empty() && rest.front() != ':' && rest.back() != ':';
  for (size_t i = 0; ok && i < rest.size(); ++i) {
    char c = static_cast<char>(std::tolower(static_cast<unsigned char>(rest[i])));
    if (c == ':') {
      ok = rest[i - 1] != ':';
    } else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) {
      hex.push_back(c);
    } else {
      ok = false;
    }
  }
  if (!ok) {
    return fail(ErrorKind::usage, "serial '" + printable(text) +
                                      "' is not a serial number in hex (e.g. 3a7f01 or 3A:7F:01)");
  }
  // The DER content octets of the positive number: no leading zero octets, whole octets, and
  // one zero octet in front when the first bit is set.
  size_t first = hex.find_first_not_of('0');
  hex = first == std::string::npos ? "0" : hex.substr(first);
  if (hex.size() % 2 != 0) hex.insert(0, "0");
  if (hex[0] >= '8') hex.insert(0, "00");
  if (hex.size() > 40) {
    return fail(ErrorKind::usage,
                "serial '" + printable(text) + "' is longer than the 20 octets RFC 5280 allows");
  }
  return hex;
}

}  // namespace hwca::ca
