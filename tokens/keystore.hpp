// The key-store interface every backend implements (PKCS#11 and TPM 2.0: tokens/pkcs11,
// tokens/tpm2).
// Four methods; extra abilities are separate interfaces a backend may also implement.
// Keys are named by URI (pkcs11:..., tpm2:...); private keys never leave the store.
#pragma once

#include <chrono>  // not used here; files that include this header rely on it
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/ossl.hpp"
#include "common/pin_source.hpp"
#include "common/result.hpp"
#include "common/uri.hpp"
#include "tokens/key_type.hpp"
#include "tokens/open_options.hpp"  // opening a store (tokens/registry.hpp)

namespace hwca::tokens {

// How a signature is made from a digest computed on the host.
enum class SigScheme { ecdsa, rsa_pkcs1, rsa_pss };

struct SignRequest {
  SigScheme scheme = SigScheme::ecdsa;
  std::string digest;             // "SHA256", "SHA384", "SHA512" (names as OpenSSL's)
  std::span<const uint8_t> hash;  // the digest, hash.size() == size of `digest`
  int pss_salt_len = 0;           // bytes, for rsa_pss; already resolved (not -1/-2)
  std::string mgf1_digest;        // for rsa_pss; empty means `digest`
};

// Makes signatures with one private key held by the store. Thread-safe.
class Signer {
 public:
  virtual ~Signer() = default;
  // The public half, as an OpenSSL key of the default provider.
  virtual EVP_PKEY* public_key() const = 0;
  // ECDSA signatures come back DER-encoded (ECDSA-Sig-Value); RSA ones as the raw block.
  virtual Result<std::vector<uint8_t>> sign(const SignRequest& request) = 0;
  // The URI the key was opened with (for messages; carries no PIN).
  virtual std::string describe() const = 0;
};

struct CreateKeyRequest {
  std::string uri;  // names the token and the new key's label (object=) and/or id (id=)
  KeyType type = KeyType::ec_p256;
};

struct KeyInfo {
  std::string uri;  // a URI that names exactly this key
  std::string label;
  std::string id_hex;
  std::string type;  // "ec-p256", "rsa-3072", ... ("rsa-1024" for a key hwca would not make)
};

// The signing path hands a key URI on parsed (common/uri.hpp), so that its text is read
// once: by the caller that received it (the provider's STORE, a command's argument).
class KeyStore {
 public:
  virtual ~KeyStore() = default;
  virtual Result<ossl::Ptr<EVP_PKEY>> get_public_key(const Uri& uri) = 0;
  virtual Result<KeyInfo> create_key(const CreateKeyRequest& request) = 0;
  virtual Result<std::shared_ptr<Signer>> create_signer(const Uri& uri) = 0;
  virtual void close() = 0;

  // The same for a URI as text: parsed here, then as above. (A backend that overrides the
  // above says `using KeyStore::get_public_key;` so that these stay visible.)
  Result<ossl::Ptr<EVP_PKEY>> get_public_key(std::string_view uri) {
    auto parsed = parse_uri(uri);
    if (!parsed) return tl::unexpected(parsed.error());
    return get_public_key(*parsed);
  }
  Result<std::shared_ptr<Signer>> create_signer(std::string_view uri) {
    auto parsed = parse_uri(uri);
    if (!parsed) return tl::unexpected(parsed.error());
    return create_signer(*parsed);
  }
};

// --- optional abilities -------------------------------------------------------------

struct TokenInfo {
  std::string uri;  // pkcs11:token=...;manufacturer=...;serial=...;model=...
  std::string label, manufacturer, model, serial;
  unsigned long slot_id = 0;
  std::vector<std::string> flags;  // "login-required", "user-pin-locked", ...
};

class TokenLister {
 public:
  virtual ~TokenLister() = default;
  virtual Result<std::vector<TokenInfo>> list_tokens() = 0;
};

class KeyLister {
 public:
  virtual ~KeyLister() = default;
  virtual Result<std::vector<KeyInfo>> list_keys(const std::string& token_uri) = 0;
};

// Initialise a fresh token (SoftHSM2 and other tokens that can be set up by software; real
// HSMs usually come with their vendor's tools for this).
struct TokenInitRequest {
  std::string label;
  std::string so_pin_source;    // env:NAME or file:PATH: the security officer's PIN
  std::string user_pin_source;  // env:NAME or file:PATH: the user PIN to set
};

class TokenInitializer {
 public:
  virtual ~TokenInitializer() = default;
  // Uses the first slot holding an uninitialised token; returns the new token.
  virtual Result<TokenInfo> init_token(const TokenInitRequest& request) = 0;
};

// Attributes of a private key as the device reports them.
struct KeyAttributes {
  KeyInfo key;
  int bits = 0;
  std::vector<std::pair<std::string, bool>> flags;  // ("sensitive", true), ...
  std::string public_pem;
};

class KeyInspector {
 public:
  virtual ~KeyInspector() = default;
  virtual Result<KeyAttributes> inspect_key(const std::string& uri) = 0;
};

}  // namespace hwca::tokens
