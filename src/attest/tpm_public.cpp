#include "attest/tpm_public.hpp"

#include <tss2/tss2_mu.h>

#include <cstring>
#include <string>

#include "tokens/public_key.hpp"

namespace hwca::attest {
namespace {

Check need(const TPMT_PUBLIC& area, const char* what, uint32_t bit, bool set, Reason reason,
           const char* text) {
  if (((area.objectAttributes & bit) != 0) != set) {
    return refuse(reason, std::string(what) + ": " + text);
  }
  return {};
}

// Attribute checks shared by the AK and the certified key, in a fixed order.
Check common_checks(const TPMT_PUBLIC& area, const char* what) {
  if (auto ok = need(area, what, kSign, true, Reason::not_sign, "not a signing key (sign clear)");
      !ok) {
    return ok;
  }
  if (auto ok = need(area, what, kFixedTpm, true, Reason::not_fixed_tpm,
                     "fixedTPM clear: the key may leave its TPM");
      !ok) {
    return ok;
  }
  if (auto ok = need(area, what, kFixedParent, true, Reason::not_fixed_parent,
                     "fixedParent clear: the key may be duplicated");
      !ok) {
    return ok;
  }
  if (auto ok = need(area, what, kSensitiveDataOrigin, true, Reason::not_sensitive_data_origin,
                     "sensitiveDataOrigin clear: the key was not made by the TPM");
      !ok) {
    return ok;
  }
  return need(area, what, kDecrypt, false, Reason::decrypt,
              "decrypt set: a signing key must not also decrypt");
}

Checked<ossl::Ptr<EVP_PKEY>> supported(const TPMT_PUBLIC& area, const char* what) {
  auto key = public_key(area);
  if (!key) return refuse(key.error().reason, std::string(what) + ": " + key.error().message);
  return key;
}

}  // namespace

Result<Bytes> marshal_area(const TPMT_PUBLIC& area) {
  Bytes out(sizeof(TPMT_PUBLIC) + 16);
  size_t len = 0;
  if (Tss2_MU_TPMT_PUBLIC_Marshal(&area, out.data(), out.size(), &len) != TSS2_RC_SUCCESS) {
    return fail(ErrorKind::internal, "cannot marshal a TPMT_PUBLIC");
  }
  out.resize(len);
  return out;
}

Result<Bytes> marshal_public(const TPMT_PUBLIC& area) {
  TPM2B_PUBLIC pub{};
  pub.publicArea = area;
  Bytes out(sizeof(TPM2B_PUBLIC) + 16);
  size_t len = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Marshal(&pub, out.data(), out.size(), &len) != TSS2_RC_SUCCESS) {
    return fail(ErrorKind::internal, "cannot marshal a TPM2B_PUBLIC");
  }
  out.resize(len);
  return out;
}

Checked<Bytes> name_of(const TPMT_PUBLIC& area) {
  if (hash_name(area.nameAlg) == nullptr) {
    return refuse(Reason::unsupported_key, "nameAlg is not SHA-256, SHA-384 or SHA-512");
  }
  auto bytes = marshal_area(area);
  if (!bytes) return refuse(Reason::malformed, bytes.error().message);
  auto hash = digest(area.nameAlg, *bytes);
  if (!hash) return refuse(Reason::malformed, hash.error().message);
  Bytes name{static_cast<uint8_t>(area.nameAlg >> 8), static_cast<uint8_t>(area.nameAlg)};
  name.insert(name.end(), hash->begin(), hash->end());
  return name;
}

Checked<TpmPublic> parse_public(std::span<const uint8_t> tpm2b_public) {
  TPM2B_PUBLIC pub{};
  size_t offset = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(tpm2b_public.data(), tpm2b_public.size(), &offset, &pub) !=
      TSS2_RC_SUCCESS) {
    return refuse(Reason::malformed, "not a TPM2B_PUBLIC");
  }
  if (offset != tpm2b_public.size()) {
    return refuse(Reason::trailing_bytes,
                  "TPM2B_PUBLIC: " + std::to_string(tpm2b_public.size() - offset) +
                      " bytes after the structure");
  }
  auto again = marshal_public(pub.publicArea);
  if (!again || *again != Bytes(tpm2b_public.begin(), tpm2b_public.end())) {
    return refuse(Reason::malformed, "TPM2B_PUBLIC: not in the TPM's own encoding");
  }
  auto name = name_of(pub.publicArea);
  if (!name) return tl::unexpected(name.error());
  return TpmPublic{pub.publicArea, std::move(*name)};
}

Checked<ossl::Ptr<EVP_PKEY>> public_key(const TPMT_PUBLIC& area) {
  if (area.type == TPM2_ALG_RSA) {
    const TPMS_RSA_PARMS& rsa = area.parameters.rsaDetail;
    if (rsa.keyBits != 2048 && rsa.keyBits != 3072 && rsa.keyBits != 4096) {
      return refuse(Reason::unsupported_key,
                    "RSA key of " + std::to_string(rsa.keyBits) + " bits (2048, 3072, 4096)");
    }
    const TPM2B_PUBLIC_KEY_RSA& n = area.unique.rsa;
    if (n.size != rsa.keyBits / 8 || (n.buffer[0] & 0x80) == 0) {
      return refuse(Reason::malformed, "RSA modulus does not have keyBits bits");
    }
    uint32_t e = rsa.exponent == 0 ? 65537 : rsa.exponent;
    if (e < 3 || e % 2 == 0) return refuse(Reason::unsupported_key, "RSA exponent not allowed");
    const uint8_t exp[4] = {static_cast<uint8_t>(e >> 24), static_cast<uint8_t>(e >> 16),
                            static_cast<uint8_t>(e >> 8), static_cast<uint8_t>(e)};
    auto key = tokens::rsa_public_key({n.buffer, n.size}, exp);
    if (!key) return refuse(Reason::malformed, "RSA key refused: " + ossl::take_errors());
    return key;
  }
  if (area.type == TPM2_ALG_ECC) {
    const char* group = nullptr;
    size_t field = 0;
    switch (area.parameters.eccDetail.curveID) {
      case TPM2_ECC_NIST_P256:
        group = "P-256", field = 32;
        break;
      case TPM2_ECC_NIST_P384:
        group = "P-384", field = 48;
        break;
      default:
        return refuse(Reason::unsupported_key, "ECC curve is not P-256 or P-384");
    }
    const TPMS_ECC_POINT& p = area.unique.ecc;
    if (p.x.size == 0 || p.x.size > field || p.y.size == 0 || p.y.size > field) {
      return refuse(Reason::malformed, "ECC point coordinates of the wrong size");
    }
    // 0x04 || x || y, each coordinate left-padded to the field size.
    Bytes point(1 + 2 * field, 0);
    point[0] = 0x04;
    std::memcpy(point.data() + 1 + field - p.x.size, p.x.buffer, p.x.size);
    std::memcpy(point.data() + 1 + 2 * field - p.y.size, p.y.buffer, p.y.size);
    auto key = tokens::ec_public_key(group, point);
    if (!key) return refuse(Reason::malformed, "ECC point refused: " + ossl::take_errors());
    return key;
  }
  return refuse(Reason::unsupported_key, "key type is neither RSA nor ECC");
}

Checked<ossl::Ptr<EVP_PKEY>> attestation_key(const TPMT_PUBLIC& area) {
  const char* what = "attestation key";
  if (auto ok = common_checks(area, what); !ok) return tl::unexpected(ok.error());
  if (auto ok = need(area, what, kRestricted, true, Reason::not_restricted,
                     "restricted clear: it could sign a forged attestation");
      !ok) {
    return tl::unexpected(ok.error());
  }
  return supported(area, what);
}

Checked<ossl::Ptr<EVP_PKEY>> certifiable_key(const TPMT_PUBLIC& area) {
  const char* what = "certified key";
  if (auto ok = common_checks(area, what); !ok) return tl::unexpected(ok.error());
  if (auto ok = need(area, what, kRestricted, false, Reason::restricted,
                     "restricted set: a restricted key cannot sign a CSR's contents");
      !ok) {
    return tl::unexpected(ok.error());
  }
  return supported(area, what);
}

Check is_attestation_key(const TPMT_PUBLIC& area) {
  auto key = attestation_key(area);
  if (!key) return tl::unexpected(key.error());
  return {};
}

Check is_certifiable_key(const TPMT_PUBLIC& area) {
  auto key = certifiable_key(area);
  if (!key) return tl::unexpected(key.error());
  return {};
}

}  // namespace hwca::attest
