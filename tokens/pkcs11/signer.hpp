// A Signer over one private key object: hashing happens on the host, the token signs once
// per call (CKM_ECDSA, CKM_RSA_PKCS over a DigestInfo, or native CKM_RSA_PKCS_PSS) on a
// pooled session. No login, search or session opening on this path, except after the
// device came back: a call that fails as if the device were gone reinitialises the module
// (Module::reinitialize), looks the key up again and is tried once more.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "tokens/keystore.hpp"
#include "tokens/pkcs11/objects.hpp"
#include "tokens/pkcs11/token.hpp"

namespace hwca::tokens::pkcs11 {

class Pkcs11Signer : public Signer {
 public:
  Pkcs11Signer(std::shared_ptr<Token> token, KeyObject key, ossl::Ptr<EVP_PKEY> pub,
               std::string uri);

  EVP_PKEY* public_key() const override { return pub_.get(); }
  Result<std::vector<uint8_t>> sign(const SignRequest& request) override;
  std::string describe() const override { return uri_; }

 private:
  struct Attempt;
  Attempt sign_once(CK_MECHANISM& mech, std::span<const uint8_t> data);
  // The key's handle in the module's current generation (found again after a recovery).
  Result<CK_OBJECT_HANDLE> handle(CK_SESSION_HANDLE session);

  std::shared_ptr<Token> token_;
  std::mutex key_mu_;  // key_.handle and key_generation_
  KeyObject key_;
  uint64_t key_generation_ = 0;
  ossl::Ptr<EVP_PKEY> pub_;
  std::string uri_;
  size_t max_sig_ = 0;
};

}  // namespace hwca::tokens::pkcs11
