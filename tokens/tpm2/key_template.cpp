#include "tokens/tpm2/key_template.hpp"

#include <tss2/tss2_mu.h>

#include <algorithm>

#include "common/text.hpp"
#include "tokens/public_key.hpp"

namespace hwca::tokens::tpm2 {
namespace {

const char* curve_name(TPMI_ECC_CURVE curve) {
  switch (curve) {
    case TPM2_ECC_NIST_P256:
      return "P-256";
    case TPM2_ECC_NIST_P384:
      return "P-384";
    default:
      return nullptr;
  }
}

}  // namespace

TPM2B_PUBLIC key_template(KeyType type) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = kSigningKeyAttributes;
  if (is_rsa(type)) {
    p.type = TPM2_ALG_RSA;
    TPMS_RSA_PARMS& rsa = p.parameters.rsaDetail;
    rsa.symmetric.algorithm = TPM2_ALG_NULL;
    rsa.scheme.scheme = TPM2_ALG_NULL;
    rsa.keyBits = static_cast<TPMI_RSA_KEY_BITS>(key_bits(type));
    rsa.exponent = 0;  // the TPM's word for 65537
  } else {
    p.type = TPM2_ALG_ECC;
    TPMS_ECC_PARMS& ecc = p.parameters.eccDetail;
    ecc.symmetric.algorithm = TPM2_ALG_NULL;
    ecc.scheme.scheme = TPM2_ALG_NULL;
    ecc.curveID = type == KeyType::ec_p256 ? TPM2_ECC_NIST_P256 : TPM2_ECC_NIST_P384;
    ecc.kdf.scheme = TPM2_ALG_NULL;
  }
  return t;
}

TPMT_PUBLIC_PARMS template_parms(const TPM2B_PUBLIC& tmpl) {
  TPMT_PUBLIC_PARMS parms{};
  parms.type = tmpl.publicArea.type;
  parms.parameters = tmpl.publicArea.parameters;
  return parms;
}

Status check_signing_key(const TPMT_PUBLIC& pub, const std::string& what) {
  if (pub.type != TPM2_ALG_RSA && pub.type != TPM2_ALG_ECC) {
    return fail(ErrorKind::usage, what + " is neither an RSA nor an ECC key");
  }
  TPMA_OBJECT a = pub.objectAttributes;
  if ((a & TPMA_OBJECT_SIGN_ENCRYPT) == 0) {
    return fail(ErrorKind::usage, what + " is not a signing key (its sign attribute is clear)");
  }
  if ((a & TPMA_OBJECT_RESTRICTED) != 0) {
    return fail(ErrorKind::usage,
                what +
                    " is a restricted key (an attestation key): it signs only what the "
                    "TPM made, not certificates");
  }
  if ((a & TPMA_OBJECT_USERWITHAUTH) == 0) {
    return fail(ErrorKind::usage,
                what +
                    " can be used only through a policy (userWithAuth is clear), which "
                    "hwca does not run");
  }
  if (pub.type == TPM2_ALG_ECC && curve_name(pub.parameters.eccDetail.curveID) == nullptr) {
    return fail(ErrorKind::usage, what + " is on a curve other than P-256 and P-384");
  }
  TPMI_ALG_SIG_SCHEME scheme = pub.type == TPM2_ALG_RSA ? pub.parameters.rsaDetail.scheme.scheme
                                                        : pub.parameters.eccDetail.scheme.scheme;
  bool usable = pub.type == TPM2_ALG_RSA ? (scheme == TPM2_ALG_NULL || scheme == TPM2_ALG_RSASSA ||
                                            scheme == TPM2_ALG_RSAPSS)
                                         : (scheme == TPM2_ALG_NULL || scheme == TPM2_ALG_ECDSA);
  if (!usable) {
    return fail(ErrorKind::usage, what + " is bound to a signature scheme hwca does not use");
  }
  return {};
}

Result<ossl::Ptr<EVP_PKEY>> public_key_of(const TPMT_PUBLIC& pub) {
  ossl::Ptr<EVP_PKEY> key;
  if (pub.type == TPM2_ALG_RSA) {
    const TPM2B_PUBLIC_KEY_RSA& n = pub.unique.rsa;
    uint32_t exponent =
        pub.parameters.rsaDetail.exponent == 0 ? 65537 : pub.parameters.rsaDetail.exponent;
    const uint8_t e[4] = {static_cast<uint8_t>(exponent >> 24),
                          static_cast<uint8_t>(exponent >> 16), static_cast<uint8_t>(exponent >> 8),
                          static_cast<uint8_t>(exponent)};
    key = rsa_public_key({n.buffer, n.size}, e);
  } else if (pub.type == TPM2_ALG_ECC) {
    const char* curve = curve_name(pub.parameters.eccDetail.curveID);
    if (curve == nullptr) return fail(ErrorKind::usage, "the key's curve is not P-256 or P-384");
    // An uncompressed point: each coordinate left-padded to the field's size (a TPM may
    // drop leading zero bytes).
    const size_t field = pub.parameters.eccDetail.curveID == TPM2_ECC_NIST_P256 ? 32 : 48;
    const TPMS_ECC_POINT& q = pub.unique.ecc;
    if (q.x.size > field || q.y.size > field) {
      return fail(ErrorKind::usage, "the key's public point is longer than its curve's");
    }
    std::vector<uint8_t> point(1 + 2 * field, 0);
    point[0] = 0x04;
    std::copy(q.x.buffer, q.x.buffer + q.x.size, point.begin() + 1 + (field - q.x.size));
    std::copy(q.y.buffer, q.y.buffer + q.y.size, point.end() - q.y.size);
    key = ec_public_key(curve, point);
  } else {
    return fail(ErrorKind::usage, "the key is neither RSA nor ECC");
  }
  if (!key) {
    return fail(ErrorKind::usage, std::string("the TPM's public area is not a valid ") +
                                      (pub.type == TPM2_ALG_RSA ? "RSA" : "EC") +
                                      " key: " + ossl::take_errors());
  }
  return key;
}

std::vector<std::pair<std::string, bool>> attribute_flags(TPMA_OBJECT a) {
  const std::pair<const char*, TPMA_OBJECT> bits[] = {
      {"fixedTPM", TPMA_OBJECT_FIXEDTPM},
      {"stClear", TPMA_OBJECT_STCLEAR},
      {"fixedParent", TPMA_OBJECT_FIXEDPARENT},
      {"sensitiveDataOrigin", TPMA_OBJECT_SENSITIVEDATAORIGIN},
      {"userWithAuth", TPMA_OBJECT_USERWITHAUTH},
      {"adminWithPolicy", TPMA_OBJECT_ADMINWITHPOLICY},
      {"noDA", TPMA_OBJECT_NODA},
      {"encryptedDuplication", TPMA_OBJECT_ENCRYPTEDDUPLICATION},
      {"restricted", TPMA_OBJECT_RESTRICTED},
      {"decrypt", TPMA_OBJECT_DECRYPT},
      {"sign", TPMA_OBJECT_SIGN_ENCRYPT}};
  std::vector<std::pair<std::string, bool>> out;
  for (const auto& [name, bit] : bits) out.emplace_back(name, (a & bit) != 0);
  return out;
}

Result<std::string> key_name_hex(const TPM2B_PUBLIC& pub) {
  uint8_t buf[sizeof(TPMT_PUBLIC)];
  size_t len = 0;
  if (Tss2_MU_TPMT_PUBLIC_Marshal(&pub.publicArea, buf, sizeof buf, &len) != TSS2_RC_SUCCESS) {
    return fail(ErrorKind::usage, "the key's public area cannot be marshalled");
  }
  const char* md = pub.publicArea.nameAlg == TPM2_ALG_SHA256   ? "SHA256"
                   : pub.publicArea.nameAlg == TPM2_ALG_SHA384 ? "SHA384"
                   : pub.publicArea.nameAlg == TPM2_ALG_SHA1   ? "SHA1"
                                                               : nullptr;
  if (md == nullptr) return fail(ErrorKind::usage, "the key's name algorithm is not supported");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  ossl::Ptr<EVP_MD> alg(EVP_MD_fetch(nullptr, md, ossl::kDefaultProps));
  if (!alg || EVP_Digest(buf, len, digest, &dlen, alg.get(), nullptr) != 1) {
    return fail(ErrorKind::internal, "cannot hash the key's public area");
  }
  unsigned char prefix[2] = {static_cast<unsigned char>(pub.publicArea.nameAlg >> 8),
                             static_cast<unsigned char>(pub.publicArea.nameAlg & 0xff)};
  return hex_text(prefix, 2) + hex_text(digest, dlen);
}

}  // namespace hwca::tokens::tpm2
