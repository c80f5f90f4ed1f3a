// The TPM 2.0 key store: KeyStore and KeyInspector for tpm2: URIs. A light view (the TCTI
// and the PIN options); the TPM context it uses is shared by the whole process.
#pragma once

#include <memory>

#include "tokens/keystore.hpp"
#include "tokens/registry.hpp"
#include "tokens/tpm2/tcti.hpp"
#include "tokens/tpm2/tpm2_uri.hpp"
#include "tokens/tpm2/tpm_key.hpp"

namespace hwca::tokens::tpm2 {

// The tpm2: scheme, for the registry (tokens/registry.cpp lists the backends).
Backend backend();

class Tpm2KeyStore : public KeyStore, public KeyInspector {
 public:
  explicit Tpm2KeyStore(OpenOptions options);

  // A file key's public half comes from the file (no TPM needed); a persistent key's
  // from the TPM.
  using KeyStore::create_signer;
  using KeyStore::get_public_key;
  Result<ossl::Ptr<EVP_PKEY>> get_public_key(const Uri& uri) override;
  // file=: refuses a path that exists, makes the key, writes the file (0600, atomically,
  // never over another). handle=: makes the key and keeps it at the handle. The password,
  // if any, comes from the URI's pin-source or --pin-source.
  Result<KeyInfo> create_key(const CreateKeyRequest& request) override;
  Result<std::shared_ptr<Signer>> create_signer(const Uri& uri) override;
  void close() override {}

  // The key a URI names, its password set (the URI's pin-source, else --pin-source, else
  // the prompt, when the key file says it has one) and loaded: what create_signer signs
  // with, and what hwca-node's attestation certifies.
  Result<std::shared_ptr<TpmKey>> open_for_use(const std::string& uri);
  Result<std::shared_ptr<TpmKey>> open_for_use(const Tpm2Uri& uri);

  // Loads the key and reads its public area back from the TPM.
  Result<KeyAttributes> inspect_key(const std::string& uri) override;

 private:
  Result<std::shared_ptr<TpmContext>> context() const;
  // Open the key a URI names (no password set).
  Result<std::shared_ptr<TpmKey>> open_key(const Tpm2Uri& uri) const;

  OpenOptions options_;
  TctiChoice tcti_;
};

}  // namespace hwca::tokens::tpm2
