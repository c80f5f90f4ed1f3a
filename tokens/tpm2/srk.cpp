#include "tokens/tpm2/srk.hpp"

#include <openssl/sha.h>

#include <cstring>

#include "tokens/tpm2/rc.hpp"

namespace hwca::tokens::tpm2 {

namespace {

constexpr TPMA_OBJECT kSrkAttributes =
    TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
    TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;

}  // namespace

TPM2B_PUBLIC srk_template() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = kSrkAttributes;
  TPMS_ECC_PARMS& ecc = p.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_AES;
  ecc.symmetric.keyBits.aes = 128;
  ecc.symmetric.mode.aes = TPM2_ALG_CFB;
  ecc.scheme.scheme = TPM2_ALG_NULL;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
  // authPolicy and unique (x, y) stay empty: the TPM derives the key from its seed and
  // this template alone, so every TPM tool that uses the template finds the same key.
  return t;
}

bool matches_srk_template(const TPMT_PUBLIC& pub) {
  const TPMS_ECC_PARMS& ecc = pub.parameters.eccDetail;
  return pub.type == TPM2_ALG_ECC && pub.nameAlg == TPM2_ALG_SHA256 &&
         pub.objectAttributes == kSrkAttributes && pub.authPolicy.size == 0 &&
         ecc.symmetric.algorithm == TPM2_ALG_AES && ecc.symmetric.keyBits.aes == 128 &&
         ecc.symmetric.mode.aes == TPM2_ALG_CFB && ecc.scheme.scheme == TPM2_ALG_NULL &&
         ecc.curveID == TPM2_ECC_NIST_P256 && ecc.kdf.scheme == TPM2_ALG_NULL;
}

bool is_owner_primary(const TPM2B_NAME& name, const TPM2B_NAME& qualified_name) {
  // Name and qualified name of a SHA-256 object: the algorithm (0x000b) and a digest.
  if (name.size != 2 + SHA256_DIGEST_LENGTH || qualified_name.size != name.size ||
      name.name[0] != 0x00 || name.name[1] != TPM2_ALG_SHA256 ||
      std::memcmp(qualified_name.name, name.name, 2) != 0) {
    return false;
  }
  // The qualified name of a hierarchy is its handle; a primary's is H(that || its name).
  unsigned char input[4 + sizeof name.name];
  const unsigned char owner[4] = {0x40, 0x00, 0x00, 0x01};
  std::memcpy(input, owner, 4);
  std::memcpy(input + 4, name.name, name.size);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(input, 4 + name.size, digest);
  return std::memcmp(qualified_name.name + 2, digest, sizeof digest) == 0;
}

ESYS_TR Srk::handle() const {
  return std::visit([](const auto& h) { return h.get(); }, handle_);
}

Result<Srk> load_srk(const std::shared_ptr<TpmContext>& ctx) {
  return ctx->with([&](ESYS_CONTEXT* esys) -> Result<Srk> {
    Srk srk;
    // A provisioned SRK saves re-deriving the key (slow on some TPMs); anything else kept
    // at its handle is not ours to use.
    ESYS_TR persistent = ESYS_TR_NONE;
    // swtpm needs an object slot to read a persistent object's public area.
    TSS2_RC rc = ctx->with_room([&](ESYS_CONTEXT* e) {
      return Esys_TR_FromTPMPublic(e, kPersistentSrk, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   &persistent);
    });
    if (rc == TSS2_RC_SUCCESS) {
      PersistentHandle handle(ctx, persistent);
      TPM2B_PUBLIC* out = nullptr;
      TPM2B_NAME* name = nullptr;
      TPM2B_NAME* qualified = nullptr;
      rc = Esys_ReadPublic(esys, handle.get(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &out,
                           &name, &qualified);
      EsysPtr<TPM2B_PUBLIC> out_ptr(out);
      EsysPtr<TPM2B_NAME> name_ptr(name);
      EsysPtr<TPM2B_NAME> qualified_ptr(qualified);
      if (rc != TSS2_RC_SUCCESS) return ctx->error("reading the persistent SRK 0x81000001", rc);
      if (matches_srk_template(out->publicArea) && is_owner_primary(*name, *qualified)) {
        srk.public_ = *out;
        srk.name_ = *name;
        srk.handle_ = std::move(handle);
        return srk;
      }
    } else if (tpm_rc(rc) != TPM2_RC_HANDLE) {  // TPM2_RC_HANDLE: no object there
      return ctx->error("looking for the persistent SRK 0x81000001", rc);
    }

    TPM2B_SENSITIVE_CREATE sensitive{};
    TPM2B_PUBLIC in = srk_template();
    TPM2B_DATA outside{};
    TPML_PCR_SELECTION pcrs{};
    ESYS_TR primary = ESYS_TR_NONE;
    TPM2B_PUBLIC* out = nullptr;
    TPM2B_CREATION_DATA* creation = nullptr;
    TPM2B_DIGEST* creation_hash = nullptr;
    TPMT_TK_CREATION* ticket = nullptr;
    rc = ctx->with_room([&](ESYS_CONTEXT* e) {
      return Esys_CreatePrimary(e, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                &sensitive, &in, &outside, &pcrs, &primary, &out, &creation,
                                &creation_hash, &ticket);
    });
    EsysPtr<TPM2B_PUBLIC> out_ptr(out);
    EsysPtr<TPM2B_CREATION_DATA> creation_ptr(creation);
    EsysPtr<TPM2B_DIGEST> creation_hash_ptr(creation_hash);
    EsysPtr<TPMT_TK_CREATION> ticket_ptr(ticket);
    if (rc != TSS2_RC_SUCCESS) return ctx->error("creating the SRK in the owner hierarchy", rc);
    TransientHandle handle(ctx, primary);  // flushed from here on, whatever happens
    TPM2B_NAME* name = nullptr;
    rc = Esys_TR_GetName(esys, handle.get(), &name);
    EsysPtr<TPM2B_NAME> name_ptr(name);
    if (rc != TSS2_RC_SUCCESS) return ctx->error("computing the SRK's name", rc);
    srk.public_ = *out;
    srk.name_ = *name;
    srk.handle_ = std::move(handle);
    return srk;
  });
}

}  // namespace hwca::tokens::tpm2
