// The ways hwca_tpm2_bench signs with, and makes, a TPM key: hwca's provider, tpm2-openssl's
// provider, and hwca's Signer without OpenSSL. Each session holds an ESYS context and its
// key loaded in the TPM from its construction to its destruction, which lets go of
// everything: key, providers, library context, ESYS context. (tpm2-tss's swtpm TCTI opens a
// TCP connection per command; a swtpm serves one at a time.)
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tokens/keystore.hpp"

namespace hwca::bench {

enum class SignPath {
  provider,  // hwca's provider (CryptoContext: its own library context), EVP_DigestSign
  openssl,   // tpm2-openssl in a fresh library context (with "default"), EVP_DigestSign
  signer,    // hwca's tokens::Signer, no OpenSSL: SHA-256 on the host, then sign()
};
const char* sign_path_name(SignPath p);  // "hwca provider", "tpm2-openssl", "hwca Signer"

class SignSession {
 public:
  virtual ~SignSession() = default;
  // One signature of `message` with SHA-256 (ECDSA: DER). Throws std::runtime_error.
  virtual std::vector<uint8_t> sign(std::span<const uint8_t> message) = 0;
  // The key as loaded (provider paths) or the Signer's public half; for EVP_PKEY_eq.
  virtual EVP_PKEY* key() const = 0;
};

// Open an ESYS context, read the key file (TSS2 PRIVATE KEY) and load it into the TPM,
// check whose provider holds it. Throws std::runtime_error.
std::unique_ptr<SignSession> open_sign_session(SignPath path, const std::string& tcti,
                                               const std::string& key_file);

enum class MakePath {
  hwca,      // KeyStore::create_key on tpm2:file=PATH: the key, then its file (synced)
  hwca_tpm,  // its two parts timed apart: tpm2::create_key (the TPM), write_key_file
  openssl,   // EVP_PKEY_generate with "provider=tpm2", then PEM_write_bio_PrivateKey_ex
};
// "hwca create_key", "hwca tpm2::create_key", "tpm2-openssl keygen"
const char* make_path_name(MakePath p);

struct MadeKey {
  double make_ms = 0;  // hwca: create_key, file included; hwca_tpm: tpm2::create_key;
                       // tpm2-openssl: EVP_PKEY_generate
  double save_ms = 0;  // hwca_tpm: write_key_file (fsync of the file and its folder);
                       // tpm2-openssl: the PEM file written (no fsync) and the EVP_PKEY
                       // freed, which flushes the key it keeps loaded; hwca: 0
};

class KeyMaker {
 public:
  virtual ~KeyMaker() = default;
  // Make a key of `type` and save it at `file` (which must not exist). Throws.
  virtual MadeKey make(tokens::KeyType type, const std::string& file) = 0;
};

// Its ESYS context is open before it returns: make()'s clock does not include opening it.
std::unique_ptr<KeyMaker> open_key_maker(MakePath path, const std::string& tcti);

// The name of the provider of a key object ("hwca", "tpm2", "default"; "" if none).
std::string provider_of(const EVP_PKEY* pkey);

}  // namespace hwca::bench
