// TPM2_ActivateCredential done in software with an EK's private key, the way a TPM does it
// (TPM 2.0 Part 1, 24), with OpenSSL's own KBKDF (KDFa) and SSKDF (KDFe), not hwca's code:
// for the tests of MakeCredential and of the attestation protocol with software stand-ins.
#pragma once

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rsa.h>

#include <optional>
#include <string>
#include <vector>

#include "attest/make_credential.hpp"
#include "common/ossl.hpp"

namespace hwca::attest::test {

inline Bytes kbkdf(const char* md, const Bytes& key, const std::string& label, const Bytes& context,
            size_t bytes) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "KBKDF", nullptr);
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, const_cast<char*>("HMAC"), 0),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(md), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(key.data()),
                                        key.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(label.data()),
                                        label.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(context.data()),
                                        context.size()),
      OSSL_PARAM_construct_end()};
  Bytes out(bytes);
  EXPECT_EQ(EVP_KDF_derive(ctx, out.data(), out.size(), params), 1);
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return out;
}

inline Bytes sskdf(const char* md, const Bytes& z, const Bytes& info, size_t bytes) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "SSKDF", nullptr);
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(md), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(z.data()),
                                        z.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  Bytes out(bytes);
  EXPECT_EQ(EVP_KDF_derive(ctx, out.data(), out.size(), params), 1);
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return out;
}

inline Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline Bytes tpm2b(const Bytes& data, size_t& at) {
  EXPECT_LE(at + 2, data.size());
  size_t n = (size_t{data[at]} << 8) | data[at + 1];
  EXPECT_LE(at + 2 + n, data.size());
  Bytes out(data.begin() + static_cast<long>(at) + 2, data.begin() + static_cast<long>(at + 2 + n));
  at += 2 + n;
  return out;
}

inline Bytes const_identity() { return {'I', 'D', 'E', 'N', 'T', 'I', 'T', 'Y', 0}; }

// The seed from the encrypted secret, with the EK's private key.
inline Bytes recover_seed(EVP_PKEY* ek, const char* md, size_t hlen, const Bytes& encrypted_secret) {
  size_t at = 0;
  Bytes secret = tpm2b(encrypted_secret, at);
  EXPECT_EQ(at, encrypted_secret.size());
  ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, ek, nullptr));
  if (EVP_PKEY_is_a(ek, "RSA")) {
    void* label = OPENSSL_memdup("IDENTITY", 9);
    EXPECT_EQ(EVP_PKEY_decrypt_init(ctx.get()), 1);
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING), 1);
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx.get(), md, nullptr), 1);
    EXPECT_EQ(EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label, 9), 1);
    Bytes seed(512);
    size_t len = seed.size();
    if (EVP_PKEY_decrypt(ctx.get(), seed.data(), &len, secret.data(), secret.size()) != 1) {
      return {};
    }
    seed.resize(len);
    return seed;
  }
  // ECC: the secret is the ephemeral point; Z = x(ek_priv * point).
  size_t p = 0;
  Bytes x = tpm2b(secret, p), y = tpm2b(secret, p);
  EXPECT_EQ(p, secret.size());
  Bytes point = cat(cat({0x04}, x), y);
  char group[32];
  size_t glen = 0;
  EXPECT_EQ(
      EVP_PKEY_get_utf8_string_param(ek, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen),
      1);
  ossl::Ptr<EVP_PKEY> peer(EVP_PKEY_new());
  EXPECT_EQ(EVP_PKEY_copy_parameters(peer.get(), ek), 1);
  EXPECT_EQ(EVP_PKEY_set1_encoded_public_key(peer.get(), point.data(), point.size()), 1);
  EXPECT_EQ(EVP_PKEY_derive_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_derive_set_peer(ctx.get(), peer.get()), 1);
  Bytes z(128);
  size_t zlen = z.size();
  EXPECT_EQ(EVP_PKEY_derive(ctx.get(), z.data(), &zlen), 1);
  z.resize(zlen);
  BIGNUM* ek_x = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(ek, OSSL_PKEY_PARAM_EC_PUB_X, &ek_x), 1);
  Bytes ekx(x.size());
  BN_bn2binpad(ek_x, ekx.data(), static_cast<int>(ekx.size()));
  BN_free(ek_x);
  return sskdf(md, z, cat(cat(const_identity(), x), ekx), hlen);
}

// ActivateCredential in software: the credential, or nullopt when the HMAC does not match.
inline std::optional<Bytes> activate(EVP_PKEY* ek, const char* md, size_t hlen, size_t aes_bytes,
                              const Bytes& name, const Credential& c) {
  Bytes seed = recover_seed(ek, md, hlen, c.encrypted_secret);
  if (seed.size() != hlen) return std::nullopt;
  size_t at = 0;
  Bytes blob = tpm2b(c.id_object, at);
  EXPECT_EQ(at, c.id_object.size());
  at = 0;
  Bytes outer = tpm2b(blob, at);
  Bytes enc(blob.begin() + static_cast<long>(at), blob.end());
  Bytes hmac_key = kbkdf(md, seed, "INTEGRITY", {}, hlen);
  Bytes mac(64);
  size_t mlen = 0;
  Bytes in = cat(enc, name);
  EXPECT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, md, nullptr, hmac_key.data(), hmac_key.size(),
                      in.data(), in.size(), mac.data(), mac.size(), &mlen),
            nullptr);
  mac.resize(mlen);
  if (mac != outer) return std::nullopt;
  Bytes sym = kbkdf(md, seed, "STORAGE", name, aes_bytes);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_CIPHER* aes =
      EVP_CIPHER_fetch(nullptr, aes_bytes == 16 ? "AES-128-CFB" : "AES-256-CFB", nullptr);
  const uint8_t iv[16] = {0};
  Bytes plain(enc.size());
  int len = 0;
  EXPECT_EQ(EVP_DecryptInit_ex2(ctx, aes, sym.data(), iv, nullptr), 1);
  EXPECT_EQ(EVP_DecryptUpdate(ctx, plain.data(), &len, enc.data(), static_cast<int>(enc.size())),
            1);
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(aes);
  at = 0;
  Bytes cred = tpm2b(plain, at);
  EXPECT_EQ(at, plain.size());
  return cred;
}

}  // namespace hwca::attest::test
