// EK certificates: parsing with vendors' NV quirks tolerated, EK public keys, the registry's
// SHA-256 of an EK, and chain verification to the operator's EK roots (ek_certificate.hpp).
#include "attest/ek_certificate.hpp"

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <memory>
#include <string_view>

#include "common/text.hpp"
#include "tokens/tpm2/attestation.hpp"

namespace hwca::attest {
namespace {

// Where PEM begins after leading whitespace (which OpenSSL's PEM reader does not skip on
// the BEGIN line), or npos when the bytes are not PEM.
size_t pem_start(std::span<const uint8_t> bytes) {
  size_t i = 0;
  while (i < bytes.size() &&
         (bytes[i] == ' ' || bytes[i] == '\t' || bytes[i] == '\r' || bytes[i] == '\n')) {
    ++i;
  }
  const std::string_view begin = "-----BEGIN ";
  const bool pem = bytes.size() - i >= begin.size() &&
                   std::equal(begin.begin(), begin.end(), bytes.begin() + static_cast<long>(i));
  return pem ? i : std::string_view::npos;
}

ossl::Ptr<BIO> memory_bio(std::span<const uint8_t> bytes) {
  return ossl::Ptr<BIO>(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

}  // namespace

Result<ossl::Ptr<X509>> parse_ek_certificate(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return fail(ErrorKind::usage, "the EK certificate is empty");
  if (bytes.size() > (1u << 20)) {
    return fail(ErrorKind::usage, "the EK certificate is larger than 1 MiB");
  }
  if (size_t at = pem_start(bytes); at != std::string_view::npos) {
    auto bio = memory_bio(bytes.subspan(at));
    ossl::Ptr<X509> cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    if (!cert) {
      return fail(ErrorKind::usage,
                  "the EK certificate is PEM but not a CERTIFICATE (" + ossl::take_errors() + ")");
    }
    return cert;
  }
  // DER as TPMs store it (tokens/tpm2: the NV header, padding), the framing the node uses.
  auto der = tokens::tpm2::ek_certificate_der(bytes);
  if (!der) {
    return fail(ErrorKind::usage, "the EK certificate is neither PEM nor DER: " +
                                      der.error().message);
  }
  const size_t size = der->size();
  const unsigned char* p = der->data();
  ossl::Ptr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(size)));
  if (!cert || p != der->data() + size) {
    return fail(ErrorKind::usage,
                "the EK certificate is not an X.509 certificate (" + ossl::take_errors() + ")");
  }
  return cert;
}

Result<ossl::Ptr<EVP_PKEY>> parse_ek_public_key(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return fail(ErrorKind::usage, "the EK public key is empty");
  if (size_t at = pem_start(bytes); at != std::string_view::npos) {
    auto bio = memory_bio(bytes.subspan(at));
    ossl::Ptr<EVP_PKEY> key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr)
                                : nullptr);
    if (!key) {
      return fail(ErrorKind::usage,
                  "the EK public key is PEM but not a PUBLIC KEY (" + ossl::take_errors() + ")");
    }
    return key;
  }
  const unsigned char* p = bytes.data();
  ossl::Ptr<EVP_PKEY> key(d2i_PUBKEY(nullptr, &p, static_cast<long>(bytes.size())));
  if (!key || p != bytes.data() + bytes.size()) {
    return fail(ErrorKind::usage,
                "the EK public key is not a SubjectPublicKeyInfo in PEM or DER (" +
                    (key ? std::string("bytes after it") : ossl::take_errors()) + ")");
  }
  return key;
}

namespace {

// RSAPublicKey (RFC 8017, A.1.1): SEQUENCE { modulus INTEGER, publicExponent INTEGER }.
struct RsaPublicKeyAsn1 {
  ASN1_INTEGER* n;
  ASN1_INTEGER* e;
};
ASN1_SEQUENCE(RsaPublicKeyAsn1) = {
    ASN1_SIMPLE(RsaPublicKeyAsn1, n, ASN1_INTEGER),
    ASN1_SIMPLE(RsaPublicKeyAsn1, e, ASN1_INTEGER),
} ASN1_SEQUENCE_END(RsaPublicKeyAsn1)
IMPLEMENT_ASN1_FUNCTIONS(RsaPublicKeyAsn1)
struct FreeRsaPublicKeyAsn1 {
  void operator()(RsaPublicKeyAsn1* p) const { RsaPublicKeyAsn1_free(p); }
};

// The public key's bytes inside the SubjectPublicKeyInfo BIT STRING, and its algorithm's
// parameters: RSAPublicKey DER with NULL parameters, or the uncompressed point with the
// named curve's OID. False for any other key. OpenSSL-allocated `*der`.
bool spki_parts(EVP_PKEY* key, int* alg, int* ptype, void** pval, unsigned char** der,
                int* len) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    std::unique_ptr<RsaPublicKeyAsn1, FreeRsaPublicKeyAsn1> rsa(RsaPublicKeyAsn1_new());
    bool ok = rsa && EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
              EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) == 1 &&
              BN_to_ASN1_INTEGER(n, rsa->n) != nullptr && BN_to_ASN1_INTEGER(e, rsa->e) != nullptr;
    BN_free(n);
    BN_free(e);
    *len = ok ? i2d_RsaPublicKeyAsn1(rsa.get(), der) : -1;
    *alg = NID_rsaEncryption;
    *ptype = V_ASN1_NULL;
    *pval = nullptr;
    return *len > 0;
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64];
    size_t glen = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                       &glen) != 1) {
      return false;
    }
    const int curve = OBJ_sn2nid(group);
    size_t plen = 0;
    if (curve == NID_undef ||
        EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, nullptr, 0,
                                        &plen) != 1) {
      return false;
    }
    *der = static_cast<unsigned char*>(OPENSSL_malloc(plen));
    if (*der == nullptr || EVP_PKEY_get_octet_string_param(
                               key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, *der, plen, &plen) != 1 ||
        plen == 0 || (*der)[0] != 0x04) {
      OPENSSL_free(*der);
      return false;
    }
    *len = static_cast<int>(plen);
    *alg = NID_X9_62_id_ecPublicKey;
    *ptype = V_ASN1_OBJECT;
    *pval = OBJ_nid2obj(curve);
    return true;
  }
  return false;
}

}  // namespace

std::vector<uint8_t> ek_spki_der(EVP_PKEY* key) {
  // RSA and EC keys are put together from their numbers with OpenSSL's ASN.1 encoders:
  // i2d_PUBKEY gives the same bytes but builds an encoder chain for every call (OpenSSL 3.0),
  // which was half of the CA's cost of an attestation's first round.
  int alg = 0, ptype = 0, len = 0;
  void* pval = nullptr;
  unsigned char* parts = nullptr;
  if (key != nullptr && spki_parts(key, &alg, &ptype, &pval, &parts, &len)) {
    ossl::Ptr<X509_PUBKEY> spki(X509_PUBKEY_new());
    if (spki && X509_PUBKEY_set0_param(spki.get(), OBJ_nid2obj(alg), ptype, pval, parts, len) == 1) {
      unsigned char* der = nullptr;
      int n = i2d_X509_PUBKEY(spki.get(), &der);
      if (n > 0) {
        std::vector<uint8_t> out(der, der + n);
        OPENSSL_free(der);
        return out;
      }
    } else {
      OPENSSL_free(parts);
    }
    ERR_clear_error();
  }
  unsigned char* der = nullptr;
  int len2 = key == nullptr ? -1 : i2d_PUBKEY(key, &der);
  if (len2 <= 0) {
    ERR_clear_error();
    return {};
  }
  std::vector<uint8_t> out(der, der + len2);
  OPENSSL_free(der);
  return out;
}

std::string ek_spki_sha256(EVP_PKEY* key) {
  const std::vector<uint8_t> der = ek_spki_der(key);
  unsigned char md[32];
  unsigned int md_len = 0;
  if (der.empty() || EVP_Digest(der.data(), der.size(), md, &md_len, EVP_sha256(), nullptr) != 1) {
    ERR_clear_error();
    return {};
  }
  return hex_text(md, md_len);
}

Status verify_ek_chain(X509* ek, const std::vector<X509*>& anchors,
                       const std::vector<X509*>& intermediates) {
  if (anchors.empty()) {
    return fail(ErrorKind::auth, "no EK root is trusted, so no EK certificate can chain");
  }
  ossl::Ptr<X509_STORE> store(X509_STORE_new());
  ossl::Ptr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  auto free_untrusted = [&] { sk_X509_free(untrusted); };
  if (!store || !ctx || untrusted == nullptr) {
    free_untrusted();
    return fail(ErrorKind::internal, "cannot verify the EK certificate: out of memory");
  }
  for (X509* a : anchors) X509_STORE_add_cert(store.get(), a);  // a duplicate is no failure
  ERR_clear_error();
  for (X509* i : intermediates) sk_X509_push(untrusted, i);  // not owned by the stack
  if (X509_STORE_CTX_init(ctx.get(), store.get(), ek, untrusted) != 1) {
    free_untrusted();
    return fail(ErrorKind::internal,
                "cannot verify the EK certificate (" + ossl::take_errors() + ")");
  }
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME);
  const int ok = X509_verify_cert(ctx.get());
  const int err = X509_STORE_CTX_get_error(ctx.get());
  X509* at = X509_STORE_CTX_get_current_cert(ctx.get());
  std::string where;
  if (at != nullptr) {
    char buf[256];
    X509_NAME_oneline(X509_get_subject_name(at), buf, sizeof buf);
    where = std::string(" at '") + printable(buf) + "'";
  }
  X509_STORE_CTX_cleanup(ctx.get());
  free_untrusted();
  ERR_clear_error();
  if (ok != 1) {
    return fail(ErrorKind::auth, std::string("the EK certificate does not chain to a trusted EK "
                                             "root: ") +
                                     X509_verify_cert_error_string(err) + where);
  }
  return {};
}

}  // namespace hwca::attest
