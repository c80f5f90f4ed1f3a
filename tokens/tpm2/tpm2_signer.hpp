// A Signer over a TPM key: the host hashes, the TPM signs the digest once (TPM2_Sign with
// ECDSA, RSASSA or RSAPSS and the request's hash).
#pragma once

#include <memory>
#include <string>

#include "tokens/keystore.hpp"
#include "tokens/tpm2/tpm_key.hpp"

namespace hwca::tokens::tpm2 {

class Tpm2Signer : public Signer {
 public:
  Tpm2Signer(std::shared_ptr<TpmKey> key, ossl::Ptr<EVP_PKEY> pub, std::string uri)
      : key_(std::move(key)), pub_(std::move(pub)), uri_(std::move(uri)) {}

  EVP_PKEY* public_key() const override { return pub_.get(); }
  // RSA-PSS: a TPM chooses the salt itself, as long as the digest; other salt lengths and
  // an MGF1 hash other than the message's are refused (usage).
  Result<std::vector<uint8_t>> sign(const SignRequest& request) override;
  std::string describe() const override { return uri_; }

 private:
  std::shared_ptr<TpmKey> key_;
  ossl::Ptr<EVP_PKEY> pub_;
  std::string uri_;
};

}  // namespace hwca::tokens::tpm2
