// Certificate serial numbers: 20 random octets from OpenSSL's CSPRNG with the top bit clear,
// so the number is positive and its DER content is exactly 20 octets (RFC 5280 4.1.2.2
// allows at most 20; the CA/Browser Forum asks for at least 64 random bits; this has 158).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "common/ossl.hpp"
#include "common/result.hpp"

namespace hwca::ca {

class Serial {
 public:
  static constexpr size_t kOctets = 20;

  static Result<Serial> random();
  // From lower-case or upper-case hex of exactly the content octets (as `hex()` writes).
  static Result<Serial> from_hex(const std::string& hex);

  const std::array<uint8_t, kOctets>& octets() const { return octets_; }
  std::string hex() const;  // lower case, 40 digits: the form stored and shown
  ossl::Ptr<ASN1_INTEGER> to_asn1() const;

  bool operator==(const Serial& other) const { return octets_ == other.octets_; }

 private:
  std::array<uint8_t, kOctets> octets_{};
};

// The lower-case hex of a certificate's serial content octets (as stored and shown), for
// any positive serial.
std::string serial_hex(const ASN1_INTEGER* serial);

// A serial as a user types it ("3A:7F:01", "3a7f01", "0x3a7f01"): hex digits, optionally
// separated by colons. Returns the form the issuance store keys on: the lower-case hex of the
// DER content octets of that positive number ("80" becomes "0080", "0001" becomes "01").
Result<std::string> normalise_serial(const std::string& text);

// A serial for messages, as the user typed it: `key` (normalise_serial's) when `typed` is
// the same number in the same digits (case, colons and 0x aside), else both:
// "deadbeef (stored as 00deadbeef)".
std::string serial_label(const std::string& typed, const std::string& key);

}  // namespace hwca::ca
