#include "ca/serial.hpp"

#include <openssl/rand.h>

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

namespace {

std::string to_hex(const uint8_t* data, size_t len) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < len; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 15]);
  }
  return out;
}

}  // namespace

std::string Serial::hex() const { return to_hex(octets_.data(), octets_.size()); }

std::string serial_hex(const ASN1_INTEGER* serial) {
  const uint8_t* data = ASN1_STRING_get0_data(serial);
  auto len = static_cast<size_t>(ASN1_STRING_length(serial));
  // The content octets carry a leading zero when the magnitude's top bit is set.
  std::string pad = len > 0 && (data[0] & 0x80) != 0 ? "00" : "";
  return pad + to_hex(data, len);
}

ossl::Ptr<ASN1_INTEGER> Serial::to_asn1() const {
  ossl::Ptr<BIGNUM> bn(BN_bin2bn(octets_.data(), static_cast<int>(octets_.size()), nullptr));
  if (!bn) return nullptr;
  return ossl::Ptr<ASN1_INTEGER>(BN_to_ASN1_INTEGER(bn.get(), nullptr));
}

}  // namespace hwca::ca
