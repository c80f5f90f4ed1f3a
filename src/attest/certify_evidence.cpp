#include "attest/certify_evidence.hpp"

#include <openssl/ecdsa.h>
#include <tss2/tss2_mu.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "common/ossl.hpp"

namespace hwca::attest {
namespace {

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

// DER ECDSA-Sig-Value from the TPM's r and s.
Bytes ecdsa_der(const TPMS_SIGNATURE_ECDSA& sig) {
  ossl::Ptr<ECDSA_SIG> s(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(sig.signatureR.buffer, sig.signatureR.size, nullptr);
  BIGNUM* ss = BN_bin2bn(sig.signatureS.buffer, sig.signatureS.size, nullptr);
  if (!s || r == nullptr || ss == nullptr || ECDSA_SIG_set0(s.get(), r, ss) != 1) {
    BN_free(r);
    BN_free(ss);
    return {};
  }
  int len = i2d_ECDSA_SIG(s.get(), nullptr);
  if (len <= 0) return {};
  Bytes out(static_cast<size_t>(len));
  uint8_t* p = out.data();
  i2d_ECDSA_SIG(s.get(), &p);
  return out;
}

}  // namespace

Checked<TPMS_ATTEST> parse_certify_attest(std::span<const uint8_t> attest) {
  TPMS_ATTEST a{};
  size_t offset = 0;
  // The magic first: tss2-mu's unmarshalling does not look at it, and a wrong type would
  // otherwise read as a malformed union.
  if (attest.size() < 6) return refuse(Reason::malformed, "TPMS_ATTEST: too short");
  uint32_t magic = (uint32_t{attest[0]} << 24) | (uint32_t{attest[1]} << 16) |
                   (uint32_t{attest[2]} << 8) | attest[3];
  if (magic != TPM2_GENERATED_VALUE) {
    return refuse(Reason::bad_magic,
                  "TPMS_ATTEST: magic " + hex(magic) + " is not TPM_GENERATED_VALUE (not a TPM's)");
  }
  uint16_t type = static_cast<uint16_t>((attest[4] << 8) | attest[5]);
  if (type != TPM2_ST_ATTEST_CERTIFY) {
    return refuse(Reason::bad_type,
                  "TPMS_ATTEST: type " + hex(type) + " is not TPM_ST_ATTEST_CERTIFY");
  }
  if (Tss2_MU_TPMS_ATTEST_Unmarshal(attest.data(), attest.size(), &offset, &a) != TSS2_RC_SUCCESS) {
    return refuse(Reason::malformed, "TPMS_ATTEST: does not decode");
  }
  if (offset != attest.size()) {
    return refuse(Reason::trailing_bytes, "TPMS_ATTEST: " + std::to_string(attest.size() - offset) +
                                              " bytes after the structure");
  }
  return a;
}

namespace {

Check verify_signature_with(std::span<const uint8_t> attest, std::span<const uint8_t> signature,
                            const TpmPublic& ak, EVP_PKEY* ak_key) {
  TPMT_SIGNATURE sig{};
  size_t offset = 0;
  if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(signature.data(), signature.size(), &offset, &sig) !=
      TSS2_RC_SUCCESS) {
    return refuse(Reason::malformed, "TPMT_SIGNATURE: does not decode");
  }
  if (offset != signature.size()) {
    return refuse(Reason::trailing_bytes,
                  "TPMT_SIGNATURE: " + std::to_string(signature.size() - offset) +
                      " bytes after the structure");
  }
  TPMI_ALG_HASH hash = 0;
  Bytes der;
  if (sig.sigAlg == TPM2_ALG_ECDSA && ak.area.type == TPM2_ALG_ECC) {
    hash = sig.signature.ecdsa.hash;
    der = ecdsa_der(sig.signature.ecdsa);
  } else if (sig.sigAlg == TPM2_ALG_RSASSA && ak.area.type == TPM2_ALG_RSA) {
    hash = sig.signature.rsassa.hash;
    der.assign(sig.signature.rsassa.sig.buffer,
               sig.signature.rsassa.sig.buffer + sig.signature.rsassa.sig.size);
  } else {
    return refuse(Reason::unsupported_signature,
                  "signature scheme " + hex(sig.sigAlg) +
                      " is not ECDSA for an ECC AK or RSASSA for an RSA AK");
  }
  if (hash != TPM2_ALG_SHA256 && hash != TPM2_ALG_SHA384) {
    return refuse(Reason::unsupported_signature,
                  "signature hash " + hex(hash) + " is not SHA-256 or SHA-384");
  }
  ossl::Ptr<EVP_PKEY> built;
  if (ak_key == nullptr) {
    auto key = public_key(ak.area);
    if (!key) return refuse(key.error().reason, "attestation key: " + key.error().message);
    built = std::move(*key);
    ak_key = built.get();
  }
  ossl::Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx || der.empty() ||
      EVP_DigestVerifyInit_ex(ctx.get(), nullptr, hash_name(hash), nullptr, ossl::kDefaultProps,
                              ak_key, nullptr) != 1 ||
      EVP_DigestVerify(ctx.get(), der.data(), der.size(), attest.data(), attest.size()) != 1) {
    ossl::take_errors();
    return refuse(Reason::bad_signature,
                  "the attestation key's signature over TPMS_ATTEST does not verify");
  }
  return {};
}

}  // namespace

Check verify_attest_signature(std::span<const uint8_t> attest, std::span<const uint8_t> signature,
                              const TpmPublic& ak) {
  return verify_signature_with(attest, signature, ak, nullptr);
}

Check verify_certify(std::span<const uint8_t> attest, std::span<const uint8_t> signature,
                     const TpmPublic& ak, const TpmPublic& key,
                     std::span<const uint8_t> expected_extra_data) {
  return verify_certify(attest, signature, ak, nullptr, key, expected_extra_data);
}

Check verify_certify(std::span<const uint8_t> attest, std::span<const uint8_t> signature,
                     const TpmPublic& ak, EVP_PKEY* ak_key, const TpmPublic& key,
                     std::span<const uint8_t> expected_extra_data) {
  auto parsed = parse_certify_attest(attest);
  if (!parsed) return tl::unexpected(parsed.error());
  if (auto ok = verify_signature_with(attest, signature, ak, ak_key); !ok) return ok;
  const TPM2B_DATA& extra = parsed->extraData;
  if (!std::equal(extra.buffer, extra.buffer + extra.size, expected_extra_data.begin(),
                  expected_extra_data.end())) {
    return refuse(Reason::extra_data_mismatch,
                  "TPMS_ATTEST: extraData is not the expected qualifying data (replayed or "
                  "made for another request)");
  }
  const TPM2B_NAME& name = parsed->attested.certify.name;
  if (!std::equal(name.name, name.name + name.size, key.name.begin(), key.name.end())) {
    return refuse(Reason::name_mismatch,
                  "TPMS_ATTEST: the certified name is not the name of the key presented");
  }
  return {};
}

}  // namespace hwca::attest
