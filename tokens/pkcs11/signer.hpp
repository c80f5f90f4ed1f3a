// A Signer over one private key object: hashing happens on the host, the token signs once
// per call (CKM_ECDSA, CKM_RSA_PKCS over a DigestInfo, or native CKM_RSA_PKCS_PSS) on a
// pooled session. No login, search or session opening on this path.
#pragma once

#include <memory>
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
  std::shared_ptr<Token> token_;
  KeyObject key_;
  ossl::Ptr<EVP_PKEY> pub_;
  std::string uri_;
  size_t max_sig_ = 0;
};

}  // namespace hwca::tokens::pkcs11
