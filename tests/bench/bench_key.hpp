// The key under test, the fixed input both paths sign, and the checks of their signatures
// with a public key read from the token by the bare client.
#pragma once

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include <string>
#include <vector>

#include "ca/crypto_context.hpp"
#include "common/ossl.hpp"
#include "support/raw_pkcs11.hpp"
#include "support/softhsm_token.hpp"
#include "tokens/keystore.hpp"

namespace hwca::bench {

// OpenSSL's error queue as text (taken off the queue), never empty.
std::string openssl_errors();

struct BenchKey {
  tokens::KeyType type;
  std::string label, uri;
  bool rsa = false;
  ossl::Ptr<EVP_PKEY> provider_key;  // signs in the token through the hwca provider
  ossl::Ptr<EVP_PKEY> public_key;    // default provider, read from the token by RawPkcs11
};

// A new key `label` of `type`, generated in the token through hwca's key store (as
// `hwca key generate` does); the keys are left empty.
BenchKey generate_key(const test::SoftHsmToken& token, tokens::KeyType type,
                      const std::string& label);
// How hwca loads the token's keys (its module and PIN file).
tokens::OpenOptions key_load_options(const test::SoftHsmToken& token);

// The public key object's attributes, read by the bare client, as a default-provider key.
ossl::Ptr<EVP_PKEY> read_public_key(test::RawPkcs11& raw, CK_SESSION_HANDLE s, const BenchKey& key);
std::vector<unsigned char> spki_der(EVP_PKEY* pkey);

struct Input {
  std::vector<unsigned char> message;      // provider path: hashed on the host
  std::vector<unsigned char> digest;       // SHA-256(message)
  std::vector<unsigned char> digest_info;  // DER DigestInfo(SHA-256, digest), raw RSA input
};

Input make_input();

// A raw device signature (r||s for ECDSA, the RSA block) over the digest.
bool verify_raw(const BenchKey& key, const Input& in, const std::vector<unsigned char>& sig);
// A provider signature (DER ECDSA-Sig-Value or the RSA block) over the message.
bool verify_provider(const BenchKey& key, const Input& in, const std::vector<unsigned char>& sig);

}  // namespace hwca::bench
