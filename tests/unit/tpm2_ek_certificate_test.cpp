// ek_certificate_der (tokens/tpm2/attestation): the certificate in an EK certificate NV
// index's bytes, as vendors store it (a PC Client header before it, padding after it).
#include <gtest/gtest.h>

#include <vector>

#include "tokens/tpm2/attestation.hpp"

namespace hwca::tokens::tpm2 {
namespace {

using Bytes = std::vector<uint8_t>;

// A SEQUENCE of `n` content bytes with a long-form length when n >= 128.
Bytes sequence(size_t n) {
  Bytes out = {0x30};
  if (n < 128) {
    out.push_back(static_cast<uint8_t>(n));
  } else {
    out.push_back(0x82);
    out.push_back(static_cast<uint8_t>(n >> 8));
    out.push_back(static_cast<uint8_t>(n));
  }
  out.resize(out.size() + n, 0x05);
  return out;
}

TEST(Tpm2EkCertificate, PlainDerIsKeptAsItIs) {
  for (size_t n : {10u, 1000u}) {
    Bytes der = sequence(n);
    auto got = ek_certificate_der(der);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(*got, der);
  }
}

TEST(Tpm2EkCertificate, PaddingAfterTheDerIsDropped) {
  Bytes der = sequence(1000);
  Bytes padded = der;
  padded.resize(der.size() + 48, 0xff);
  auto got = ek_certificate_der(padded);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, der);
}

TEST(Tpm2EkCertificate, ThePcClientHeaderIsRemoved) {
  Bytes der = sequence(1000);
  Bytes wrapped = {0x10, 0x01, 0x00, static_cast<uint8_t>(der.size() >> 8),
                   static_cast<uint8_t>(der.size())};
  wrapped.insert(wrapped.end(), der.begin(), der.end());
  wrapped.push_back(0);
  auto got = ek_certificate_der(wrapped);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(*got, der);
}

TEST(Tpm2EkCertificate, WhatIsNoCertificateIsRefused) {
  Bytes der = sequence(1000);
  Bytes cut(der.begin(), der.end() - 1);
  EXPECT_FALSE(ek_certificate_der(cut)) << "a DER shorter than its length";
  EXPECT_FALSE(ek_certificate_der(Bytes{0x04, 0x01, 0x00})) << "not a SEQUENCE";
  EXPECT_FALSE(ek_certificate_der(Bytes{})) << "empty";
  Bytes junk = der;
  junk.insert(junk.end(), {0x00, 0x41, 0x42});
  auto tail = ek_certificate_der(junk);
  ASSERT_FALSE(tail) << "bytes after the DER that are not padding";
  EXPECT_NE(tail.error().message.find("3 bytes that are not padding"), std::string::npos)
      << tail.error().message;
  Bytes header_too_long = {0x10, 0x01, 0x00, 0x10, 0x00, 0x30, 0x00};
  EXPECT_FALSE(ek_certificate_der(header_too_long)) << "a header longer than the data";
  auto e = ek_certificate_der(Bytes{0x30, 0x84, 1, 2, 3, 4});
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().kind, ErrorKind::usage);
}

}  // namespace
}  // namespace hwca::tokens::tpm2
