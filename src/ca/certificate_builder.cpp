#include "ca/certificate_builder.hpp"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/crypto_context.hpp"
#include "common/file_util.hpp"
#include "common/text.hpp"

namespace hwca::ca {
namespace {

Status add_basic_constraints(X509* x, const CertificateSpec& spec) {
  BASIC_CONSTRAINTS* bc = BASIC_CONSTRAINTS_new();
  if (bc == nullptr) return fail(ErrorKind::internal, "out of memory");
  bc->ca = spec.ca ? 0xff : 0;
  if (spec.ca && spec.path_len) {
    bc->pathlen = ASN1_INTEGER_new();
    if (bc->pathlen == nullptr || ASN1_INTEGER_set(bc->pathlen, *spec.path_len) != 1) {
      BASIC_CONSTRAINTS_free(bc);
      return fail(ErrorKind::internal, "cannot encode the path length");
    }
  }
  int ok = X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, X509V3_ADD_REPLACE);
  BASIC_CONSTRAINTS_free(bc);
  if (ok != 1) return fail(ErrorKind::internal, "cannot add basicConstraints");
  return {};
}

Status add_key_usage(X509* x, const std::vector<int>& bits) {
  if (bits.empty()) return {};
  ASN1_BIT_STRING* ku = ASN1_BIT_STRING_new();
  bool ok = ku != nullptr;
  for (int bit : bits) ok = ok && ASN1_BIT_STRING_set_bit(ku, bit, 1) == 1;
  ok = ok && X509_add1_ext_i2d(x, NID_key_usage, ku, 1, X509V3_ADD_REPLACE) == 1;
  ASN1_BIT_STRING_free(ku);
  if (!ok) return fail(ErrorKind::internal, "cannot add keyUsage");
  return {};
}

Status add_ext_key_usage(X509* x, const std::vector<int>& nids) {
  if (nids.empty()) return {};
  EXTENDED_KEY_USAGE* eku = sk_ASN1_OBJECT_new_null();
  bool ok = eku != nullptr;
  for (int nid : nids) ok = ok && sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(nid)) > 0;
  ok = ok && X509_add1_ext_i2d(x, NID_ext_key_usage, eku, 0, X509V3_ADD_REPLACE) == 1;
  sk_ASN1_OBJECT_free(eku);  // the objects are OpenSSL's static ones
  if (!ok) return fail(ErrorKind::internal, "cannot add extendedKeyUsage");
  return {};
}

Status add_sans(X509* x, const std::vector<San>& sans, const X509_NAME* subject) {
  if (sans.empty()) return {};
  auto names = to_general_names(sans);
  if (!names) return tl::unexpected(names.error());
  int critical = X509_NAME_entry_count(subject) == 0 ? 1 : 0;  // RFC 5280 4.2.1.6
  int ok = X509_add1_ext_i2d(x, NID_subject_alt_name, *names, critical, X509V3_ADD_REPLACE);
  GENERAL_NAMES_free(*names);
  if (ok != 1) return fail(ErrorKind::internal, "cannot add subjectAltName");
  return {};
}

// subjectKeyIdentifier: SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2, method 1);
// authorityKeyIdentifier: the issuer's subjectKeyIdentifier (not on self-signed roots).
Status add_key_identifiers(X509* x, const CertificateSpec& spec, OSSL_LIB_CTX* libctx) {
  ossl::Ptr<EVP_MD> sha1(EVP_MD_fetch(libctx, "SHA1", nullptr));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!sha1 || X509_pubkey_digest(x, sha1.get(), md, &len) != 1) {
    return fail(ErrorKind::internal, "cannot compute the subject key identifier");
  }
  ASN1_OCTET_STRING* ski = ASN1_OCTET_STRING_new();
  bool ok = ski != nullptr && ASN1_OCTET_STRING_set(ski, md, static_cast<int>(len)) == 1 &&
            X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0, X509V3_ADD_REPLACE) == 1;
  ASN1_OCTET_STRING_free(ski);
  if (!ok) return fail(ErrorKind::internal, "cannot add subjectKeyIdentifier");
  if (spec.issuer == nullptr) return {};
  const ASN1_OCTET_STRING* issuer_ski = X509_get0_subject_key_id(const_cast<X509*>(spec.issuer));
  if (issuer_ski == nullptr) {
    return fail(ErrorKind::usage, "the issuing CA's certificate has no subjectKeyIdentifier");
  }
  AUTHORITY_KEYID* akid = AUTHORITY_KEYID_new();
  ok = akid != nullptr && (akid->keyid = ASN1_OCTET_STRING_dup(issuer_ski)) != nullptr &&
       X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, X509V3_ADD_REPLACE) == 1;
  AUTHORITY_KEYID_free(akid);
  if (!ok) return fail(ErrorKind::internal, "cannot add authorityKeyIdentifier");
  return {};
}

// Copy a SubjectPublicKeyInfo into the certificate without decoding the key. Falls back to
// X509_set_pubkey for algorithm parameters other than none, NULL, an OID or a SEQUENCE.
Status set_public_key(X509* x, const CertificateSpec& spec) {
  const ASN1_OBJECT* alg = nullptr;
  const unsigned char* bits = nullptr;
  int len = 0;
  X509_ALGOR* algor = nullptr;
  if (spec.subject_spki != nullptr &&
      X509_PUBKEY_get0_param(nullptr, &bits, &len, &algor, spec.subject_spki) == 1) {
    int ptype = V_ASN1_UNDEF;
    const void* pval = nullptr;
    X509_ALGOR_get0(&alg, &ptype, &pval, algor);
    void* param = nullptr;
    bool known = true;
    if (ptype == V_ASN1_OBJECT) {
      param = OBJ_dup(static_cast<const ASN1_OBJECT*>(pval));
    } else if (ptype == V_ASN1_SEQUENCE) {
      param = ASN1_STRING_dup(static_cast<const ASN1_STRING*>(pval));
    } else {
      known = ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL;
    }
    if (known) {
      ASN1_OBJECT* alg_copy = OBJ_dup(alg);
      auto* bits_copy = static_cast<unsigned char*>(OPENSSL_memdup(bits, static_cast<size_t>(len)));
      if (alg_copy != nullptr && bits_copy != nullptr &&
          X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), alg_copy, ptype, param, bits_copy, len) ==
              1) {
        return {};
      }
      ASN1_OBJECT_free(alg_copy);
      OPENSSL_free(bits_copy);
      if (ptype == V_ASN1_OBJECT) ASN1_OBJECT_free(static_cast<ASN1_OBJECT*>(param));
      if (ptype == V_ASN1_SEQUENCE) ASN1_STRING_free(static_cast<ASN1_STRING*>(param));
      return fail(ErrorKind::internal, "cannot set the public key: " + ossl::take_errors());
    }
    if (ptype == V_ASN1_OBJECT) ASN1_OBJECT_free(static_cast<ASN1_OBJECT*>(param));
    if (ptype == V_ASN1_SEQUENCE) ASN1_STRING_free(static_cast<ASN1_STRING*>(param));
  }
  if (X509_set_pubkey(x, spec.subject_key) != 1) {
    return fail(ErrorKind::internal, "cannot set the public key: " + ossl::take_errors());
  }
  return {};
}

}  // namespace

std::string signing_digest(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) > 256) return "SHA384";
  return "SHA256";
}

Result<ossl::Ptr<X509>> build_certificate(const CertificateSpec& spec, OSSL_LIB_CTX* libctx) {
  if (spec.subject == nullptr || spec.subject_key == nullptr || spec.issuer_key == nullptr) {
    return fail(ErrorKind::internal, "incomplete certificate specification");
  }
  if (spec.not_after <= spec.not_before) {
    return fail(ErrorKind::usage, "the validity period is empty");
  }
  ossl::Ptr<X509> x(X509_new_ex(libctx, nullptr));
  auto serial = spec.serial.to_asn1();
  const X509_NAME* issuer_name =
      spec.issuer != nullptr ? X509_get_subject_name(spec.issuer) : spec.subject;
  if (!x || !serial || X509_set_version(x.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(x.get(), serial.get()) != 1 ||
      X509_set_subject_name(x.get(), spec.subject) != 1 ||
      X509_set_issuer_name(x.get(), issuer_name) != 1 ||
      ASN1_TIME_set(X509_getm_notBefore(x.get()), spec.not_before) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x.get()), spec.not_after) == nullptr) {
    return fail(ErrorKind::internal, "cannot assemble the certificate: " + ossl::take_errors());
  }
  if (auto ok = set_public_key(x.get(), spec); !ok) return tl::unexpected(ok.error());
  if (auto ok = add_basic_constraints(x.get(), spec); !ok) return tl::unexpected(ok.error());
  if (auto ok = add_key_usage(x.get(), spec.key_usage_bits); !ok) return tl::unexpected(ok.error());
  if (auto ok = add_ext_key_usage(x.get(), spec.ext_key_usage); !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok = add_sans(x.get(), spec.sans, spec.subject); !ok) return tl::unexpected(ok.error());
  if (auto ok = add_key_identifiers(x.get(), spec, libctx); !ok) return tl::unexpected(ok.error());
  if (auto ok = add_distribution_extensions(x.get(), spec.urls); !ok) {
    return tl::unexpected(ok.error());
  }

  ossl::Ptr<EVP_MD_CTX> mctx(EVP_MD_CTX_new());
  std::string digest = signing_digest(spec.issuer_key);
  if (!mctx ||
      EVP_DigestSignInit_ex(mctx.get(), nullptr, digest.c_str(), libctx, nullptr, spec.issuer_key,
                            nullptr) != 1 ||
      X509_sign_ctx(x.get(), mctx.get()) <= 0) {
    return tl::unexpected(provider_error(ErrorKind::device, "signing the certificate failed",
                                         /*prefix_ours=*/true));
  }
  // An RSA signature is checked before it leaves: a faulty RSA-CRT signature would give
  // away the CA's private key (Lenstra), and the check costs a few percent of the signing.
  // ECDSA is not re-checked: checking costs as much host CPU as the token's signature, and
  // a bad one (random nonce) gives no such handle on the key; relying parties reject it
  // (docs/security.md).
  if (EVP_PKEY_is_a(spec.issuer_key, "RSA") && X509_verify(x.get(), spec.issuer_key) != 1) {
    ERR_clear_error();
    return fail(ErrorKind::device, "the token returned a signature that does not verify");
  }
  return x;
}

std::string cert_pem(const X509* cert) {
  ossl::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), const_cast<X509*>(cert)) != 1) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<std::vector<ossl::Ptr<X509>>> read_pem_certificates(const std::string& path) {
  auto text = read_file(path, 1 << 20);
  if (!text) return tl::unexpected(text.error());
  ossl::Ptr<BIO> bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  std::vector<ossl::Ptr<X509>> out;
  while (bio) {
    ossl::Ptr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    out.push_back(std::move(cert));
  }
  ERR_clear_error();  // the end of the file reads as "no start line"
  if (out.empty()) return fail(ErrorKind::usage, printable(path) + " holds no PEM certificate");
  return out;
}

std::vector<uint8_t> cert_der(const X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) return {};
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

std::time_t unix_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return timegm(&tm);
}

namespace {

std::string fingerprint_text(const unsigned char* md, unsigned int len) {
  char* text = OPENSSL_buf2hexstr(md, static_cast<long>(len));  // "AB:CD:..."
  if (text == nullptr) return {};
  std::string out(text);
  OPENSSL_free(text);
  return out;
}

}  // namespace

std::string fingerprint_sha256(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
  return fingerprint_text(md, len);
}

std::string fingerprint_sha256(const std::vector<uint8_t>& der) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (der.empty() || EVP_Digest(der.data(), der.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  return fingerprint_text(md, len);
}

}  // namespace hwca::ca
