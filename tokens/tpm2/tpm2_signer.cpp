#include "tokens/tpm2/tpm2_signer.hpp"

#include <cstring>

#include "tokens/sig_encoding.hpp"

namespace hwca::tokens::tpm2 {
namespace {

Result<TPMI_ALG_HASH> hash_alg(const std::string& digest) {
  if (digest == "SHA256") return TPM2_ALG_SHA256;
  if (digest == "SHA384") return TPM2_ALG_SHA384;
  if (digest == "SHA512") return TPM2_ALG_SHA512;
  return fail(ErrorKind::usage,
              "a TPM key signs SHA-256, SHA-384 or SHA-512 digests, not " + digest);
}

}  // namespace

Result<std::vector<uint8_t>> Tpm2Signer::sign(const SignRequest& request) {
  auto hash = hash_alg(request.digest);
  if (!hash) return tl::unexpected(hash.error());
  if (request.hash.size() != signing_digest_size(request.digest) ||
      request.hash.size() > sizeof(TPM2B_DIGEST::buffer)) {
    return fail(ErrorKind::usage, "the digest to sign is not a " + request.digest + " digest");
  }
  TPMT_SIG_SCHEME scheme{};
  switch (request.scheme) {
    case SigScheme::ecdsa:
      scheme.scheme = TPM2_ALG_ECDSA;
      scheme.details.ecdsa.hashAlg = *hash;
      break;
    case SigScheme::rsa_pkcs1:
      scheme.scheme = TPM2_ALG_RSASSA;
      scheme.details.rsassa.hashAlg = *hash;
      break;
    case SigScheme::rsa_pss:
      if (static_cast<size_t>(request.pss_salt_len) != request.hash.size()) {
        return fail(ErrorKind::usage, key_->describe() +
                                          " makes RSA-PSS signatures with a salt as long as the " +
                                          "digest (" + std::to_string(request.hash.size()) +
                                          " bytes), not " + std::to_string(request.pss_salt_len));
      }
      if (!request.mgf1_digest.empty() && request.mgf1_digest != request.digest) {
        return fail(ErrorKind::usage, key_->describe() +
                                          " makes RSA-PSS signatures with MGF1 over the "
                                          "message's own hash only");
      }
      scheme.scheme = TPM2_ALG_RSAPSS;
      scheme.details.rsapss.hashAlg = *hash;
      break;
  }
  TPM2B_DIGEST digest{};
  digest.size = static_cast<UINT16>(request.hash.size());
  std::memcpy(digest.buffer, request.hash.data(), request.hash.size());
  auto sig = key_->sign(scheme, digest);
  if (!sig) return tl::unexpected(sig.error());
  if (request.scheme == SigScheme::ecdsa) {
    const TPMS_SIGNATURE_ECC& ecc = sig->signature.ecdsa;
    return ecdsa_rs_to_der({ecc.signatureR.buffer, ecc.signatureR.size},
                           {ecc.signatureS.buffer, ecc.signatureS.size});
  }
  const TPM2B_PUBLIC_KEY_RSA& block =
      request.scheme == SigScheme::rsa_pss ? sig->signature.rsapss.sig : sig->signature.rsassa.sig;
  return std::vector<uint8_t>(block.buffer, block.buffer + block.size);
}

}  // namespace hwca::tokens::tpm2
