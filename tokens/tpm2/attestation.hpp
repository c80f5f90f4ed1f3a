// The node's side of TPM attestation (docs/attestation.md): the endorsement key (EK) and
// its certificate from NV, a fresh attestation key (AK), TPM2_ActivateCredential of the CA's
// challenge, and TPM2_Certify of the kubelet key by the AK. Marshalled TPM structures in and
// out: no ESYS type reaches the caller (hwca-node sends the bytes as they are).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace hwca::tokens::tpm2 {

enum class EkKind { rsa2048, ecc_p256, ecc_p384 };
// "rsa-2048", "ecc-p256", "ecc-p384".
const char* ek_kind_name(EkKind kind);

// Which EK to use when the TPM has several: any (RSA first, then ECC P-256, then P-384:
// the first whose certificate is in NV), or one family.
enum class EkChoice { any, rsa, ecc };

// NV indices of EK certificates (TCG EK Credential Profile; PC Client provisioning).
inline constexpr uint32_t kEkCertRsa2048 = 0x01c00002;
inline constexpr uint32_t kEkCertEccP256 = 0x01c0000a;
inline constexpr uint32_t kEkCertEccP384 = 0x01c00016;

struct EkInfo {
  EkKind kind = EkKind::rsa2048;
  std::vector<uint8_t> certificate;  // DER from NV (empty when the TPM has none)
  std::vector<uint8_t> public_area;  // TPM2B_PUBLIC of the EK made from its template
  uint32_t nv_index = 0;             // where the certificate was read (0: none)
};

struct CertifyEvidence {
  std::vector<uint8_t> key_public;  // TPM2B_PUBLIC of the certified key
  std::vector<uint8_t> attest;      // TPMS_ATTEST (certifyInfo, without the TPM2B size)
  std::vector<uint8_t> signature;   // TPMT_SIGNATURE, marshalled
};

// The certificate in an EK certificate NV index's bytes: without the 5-byte header some
// TPMs put before it (10 01 00, then the length: TCG PC Client platform TPM profile) and
// without the 0x00/0xFF padding after the DER's outer length. usage (one line, "it ...")
// when it is not a DER SEQUENCE, is cut short, or is followed by anything but padding.
// The node reads NV with it, and the CA (attest::parse_ek_certificate) what nodes send.
Result<std::vector<uint8_t>> ek_certificate_der(std::span<const uint8_t> nv_data);

// The EK (see NodeAttestor::open) without an AK: for `hwca-node ek show`. The EK is flushed
// before it returns.
Result<EkInfo> read_ek(const std::string& tcti, EkChoice choice);

// One enrollment's TPM objects: the EK and a fresh AK loaded, each flushed when no longer
// needed and at the latest when the attestor is dropped (a TPM without a resource manager
// holds three transient objects).
//
// The AK is a primary of the endorsement hierarchy, made from a template with a random
// unique field (so a new key each time): one TPM2_CreatePrimary, where a child of the EK
// would take TPM2_Create and TPM2_Load each under a policy session for the EK (whose
// template allows no password), and a third object slot while it loads.
class NodeAttestor {
 public:
  // `tcti` as --tcti takes it (empty: $HWCA_TCTI, else the default). The EK: its
  // certificate from NV (RSA 0x01c00002; ECC 0x01c0000a (P-256) or 0x01c00016 (P-384)),
  // and the EK made from the TCG EK Credential Profile template of that kind (L-1
  // RSA-2048; L-2 P-256; H-3 P-384); its public key must equal the certificate's, else
  // device (the TPM's EK is not from the template hwca knows). With no certificate, the
  // first kind of `choice` from its template.
  static Result<std::unique_ptr<NodeAttestor>> open(const std::string& tcti, EkChoice choice);
  ~NodeAttestor();
  NodeAttestor(const NodeAttestor&) = delete;
  NodeAttestor& operator=(const NodeAttestor&) = delete;

  const EkInfo& ek() const;
  // TPM2B_PUBLIC of the AK: ECC P-256, ECDSA-SHA256, restricted sign, fixedTPM |
  // fixedParent | sensitiveDataOrigin | userWithAuth (0x00050072).
  const std::vector<uint8_t>& ak_public() const;

  // TPM2_ActivateCredential(AK, EK) of the CA's challenge (TPM2B_ID_OBJECT and
  // TPM2B_ENCRYPTED_SECRET, marshalled): the credential (secret). The EK is authorised by
  // a policy session with PolicySecret(TPM_RH_ENDORSEMENT) (or its empty password when its
  // template allows one), and flushed afterwards: the EK is needed for nothing else. auth
  // when the TPM refuses the challenge as not made for this EK and AK; usage when the
  // bytes do not decode.
  Result<std::vector<uint8_t>> activate(std::span<const uint8_t> credential_blob,
                                        std::span<const uint8_t> encrypted_secret);

  // TPM2_Certify(object = the key at `key_uri` (tpm2:file=... or tpm2:handle=...; its
  // password, if it has one, from the URI's pin-source or `pin_source`), signWith = the AK,
  // qualifyingData = `qualifying`, ECDSA-SHA256).
  Result<CertifyEvidence> certify(const std::string& key_uri, std::span<const uint8_t> qualifying,
                                  const std::string& pin_source);

  // The commands this process has sent to this TPM so far (TPM2_Startup and the kubelet
  // key's own included).
  uint64_t tpm_commands() const;

 private:
  struct State;
  explicit NodeAttestor(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace hwca::tokens::tpm2
