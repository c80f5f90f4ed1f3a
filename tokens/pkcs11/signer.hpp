// A Signer over one private key object: hashing happens on the host, the token signs once
// per call (CKM_ECDSA, CKM_RSA_PKCS over a DigestInfo, or native CKM_RSA_PKCS_PSS) on a
// pooled session. No login, search or session opening on this path, except after a fault,
// which the gateway classifies (gateway.hpp, Fault) and this signer's policy handles:
// - a call that fails as if the login were lost (Fault::login_lost), or a lookup that no longer
//   finds the key, logs the token in again (Token::relogin), looks the key up again and is
//   tried once more; if the login held or logging in failed, it reconnects instead;
// - a call that fails as if the device were gone (Fault::gone) reinitialises the module
//   (Module::reinitialize), looks the key up again and is tried once more.
// Such a failure is always a device error (503 at the EST server), never "key not found".
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
  // The key's handle in the module's current generation and the token's current login
  // epoch (found again after a reconnection or a new login); `rv` as find_key's.
  Result<CK_OBJECT_HANDLE> handle(CK_SESSION_HANDLE session, CK_RV* rv);

  std::shared_ptr<Token> token_;
  std::mutex key_mu_;  // key_.handle, key_generation_ and key_epoch_
  KeyObject key_;
  uint64_t key_generation_ = 0;
  uint64_t key_epoch_ = 0;  // the token's login epoch the handle was found in
  ossl::Ptr<EVP_PKEY> pub_;
  std::string uri_;
  size_t max_sig_ = 0;
};

}  // namespace hwca::tokens::pkcs11
