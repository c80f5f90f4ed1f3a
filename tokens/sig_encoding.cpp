#include "tokens/sig_encoding.hpp"

#include <openssl/objects.h>

#include "common/ossl.hpp"

namespace hwca::tokens {
namespace {

int digest_nid(const std::string& digest) {
  if (digest == "SHA256" || digest == "SHA2-256" || digest == "SHA-256") return NID_sha256;
  if (digest == "SHA384" || digest == "SHA2-384" || digest == "SHA-384") return NID_sha384;
  if (digest == "SHA512" || digest == "SHA2-512" || digest == "SHA-512") return NID_sha512;
  return NID_undef;
}

}  // namespace

size_t signing_digest_size(const std::string& digest) {
  switch (digest_nid(digest)) {
    case NID_sha256:
      return 32;
    case NID_sha384:
      return 48;
    case NID_sha512:
      return 64;
    default:
      return 0;
  }
}

Result<std::vector<uint8_t>> ecdsa_rs_to_der(std::span<const uint8_t> r,
                                             std::span<const uint8_t> s) {
  ossl::Ptr<ECDSA_SIG> sig(ECDSA_SIG_new());
  BIGNUM* br = BN_bin2bn(r.data(), static_cast<int>(r.size()), nullptr);
  BIGNUM* bs = BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr);
  if (!sig || br == nullptr || bs == nullptr || ECDSA_SIG_set0(sig.get(), br, bs) != 1) {
    BN_free(br);
    BN_free(bs);
    return fail(ErrorKind::internal, "cannot encode an ECDSA signature");
  }
  unsigned char* der = nullptr;  // one encoding pass: OpenSSL allocates the buffer
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return fail(ErrorKind::internal, "cannot encode an ECDSA signature");
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Result<std::vector<uint8_t>> ecdsa_raw_to_der(std::span<const uint8_t> raw) {
  if (raw.empty() || raw.size() % 2 != 0) {
    return fail(ErrorKind::device, "the device returned an ECDSA signature of odd length " +
                                       std::to_string(raw.size()));
  }
  size_t half = raw.size() / 2;
  return ecdsa_rs_to_der(raw.first(half), raw.subspan(half));
}

Result<std::vector<uint8_t>> digest_info(const std::string& digest, std::span<const uint8_t> hash) {
  int nid = digest_nid(digest);
  if (nid == NID_undef || signing_digest_size(digest) != hash.size()) {
    return fail(ErrorKind::usage, "unsupported digest '" + digest + "' for PKCS#1 v1.5");
  }
  X509_SIG* sig = X509_SIG_new();
  if (sig == nullptr) return fail(ErrorKind::internal, "out of memory");
  X509_ALGOR* alg = nullptr;
  ASN1_OCTET_STRING* value = nullptr;
  X509_SIG_getm(sig, &alg, &value);
  std::vector<uint8_t> out;
  if (X509_ALGOR_set0(alg, OBJ_nid2obj(nid), V_ASN1_NULL, nullptr) == 1 &&
      ASN1_OCTET_STRING_set(value, hash.data(), static_cast<int>(hash.size())) == 1) {
    int len = i2d_X509_SIG(sig, nullptr);
    if (len > 0) {
      out.resize(static_cast<size_t>(len));
      unsigned char* p = out.data();
      i2d_X509_SIG(sig, &p);
    }
  }
  X509_SIG_free(sig);
  if (out.empty()) return fail(ErrorKind::internal, "cannot encode a DigestInfo");
  return out;
}

}  // namespace hwca::tokens
