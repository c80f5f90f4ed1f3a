// The PKCS#11 key store: KeyStore plus the optional TokenLister, KeyLister and KeyInspector.
// A light view (module + options); the module, tokens, logins and sessions it uses are
// shared by the whole process.
#pragma once

#include <memory>

#include "tokens/keystore.hpp"
#include "tokens/pkcs11/module.hpp"
#include "tokens/pkcs11/pkcs11_uri.hpp"
#include "tokens/registry.hpp"

namespace hwca::tokens::pkcs11 {

// The pkcs11: scheme, for the registry (tokens/registry.cpp lists the backends).
Backend backend();

class Pkcs11KeyStore : public KeyStore,
                       public TokenLister,
                       public TokenInitializer,
                       public KeyLister,
                       public KeyInspector {
 public:
  Pkcs11KeyStore(std::shared_ptr<Module> module, OpenOptions options)
      : module_(std::move(module)), options_(std::move(options)) {}

  using KeyStore::create_signer;
  using KeyStore::get_public_key;
  Result<ossl::Ptr<EVP_PKEY>> get_public_key(const Uri& uri) override;
  Result<KeyInfo> create_key(const CreateKeyRequest& request) override;
  Result<std::shared_ptr<Signer>> create_signer(const Uri& uri) override;
  void close() override {}

  Result<std::vector<TokenInfo>> list_tokens() override;
  Result<TokenInfo> init_token(const TokenInitRequest& request) override;
  Result<std::vector<KeyInfo>> list_keys(const std::string& token_uri) override;
  Result<KeyAttributes> inspect_key(const std::string& uri) override;

 private:
  struct Resolved {
    Pkcs11Uri uri;
    std::shared_ptr<Token> token;
  };
  // Read the URI's pkcs11 attributes, find its token in this module and (unless told not
  // to) log in.
  Result<Resolved> open_token(const Uri& uri, bool login = true);

  std::shared_ptr<Module> module_;
  OpenOptions options_;
};

}  // namespace hwca::tokens::pkcs11
