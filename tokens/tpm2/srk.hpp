// The storage root key hwca's keys are made under: the TCG Provisioning Guidance ECC P-256
// SRK of the owner hierarchy, which "TSS2 PRIVATE KEY" files name as parent 0x40000001
// (tpm2-openssl and tpm2-tss-engine derive the same key). Its template must be exact: a key
// made under an SRK that differs even in one attribute fails to load elsewhere
// (TPM_RC_INTEGRITY).
#pragma once

#include <tss2/tss2_esys.h>

#include <memory>
#include <variant>

#include "common/result.hpp"
#include "tokens/tpm2/tpm_context.hpp"

namespace hwca::tokens::tpm2 {

// Where a provisioned SRK is conventionally kept (TCG Provisioning Guidance).
inline constexpr TPM2_HANDLE kPersistentSrk = 0x81000001;

// The template: nameAlg SHA-256; fixedTPM | fixedParent | sensitiveDataOrigin |
// userWithAuth | noDA | restricted | decrypt; AES-128-CFB; NULL scheme and KDF; curve
// P-256; empty authPolicy and unique.
TPM2B_PUBLIC srk_template();

// True when `pub` is an object made from srk_template() (its unique, the public point,
// is not compared: it is what the TPM derived).
bool matches_srk_template(const TPMT_PUBLIC& pub);

// True when `qualified_name` (from TPM2_ReadPublic) is that of a primary object of the
// owner hierarchy named `name`: nameAlg || SHA-256(0x40000001 || name). A child key made
// from the same template and made persistent would match the template but is not the SRK.
bool is_owner_primary(const TPM2B_NAME& name, const TPM2B_NAME& qualified_name);

class Srk {
 public:
  ESYS_TR handle() const;
  const TPM2B_PUBLIC& public_area() const { return public_; }
  const TPM2B_NAME& name() const { return name_; }
  // True when it is the persistent SRK at kPersistentSrk (then nothing is flushed).
  bool persistent() const { return std::holds_alternative<PersistentHandle>(handle_); }

 private:
  friend Result<Srk> load_srk(const std::shared_ptr<TpmContext>& ctx);
  std::variant<TransientHandle, PersistentHandle> handle_;
  TPM2B_PUBLIC public_{};
  TPM2B_NAME name_{};
};

// The persistent SRK at kPersistentSrk when there is one: an owner primary made from the
// template. Another object there is left alone (one made with a non-empty unique cannot be
// told apart; keys made under it would load nowhere else). Otherwise the SRK is created in
// the owner hierarchy (Esys_CreatePrimary, the owner's empty authorisation) and flushed when
// dropped.
Result<Srk> load_srk(const std::shared_ptr<TpmContext>& ctx);

}  // namespace hwca::tokens::tpm2
