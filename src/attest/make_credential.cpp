#include "attest/make_credential.hpp"

#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include <cstring>
#include <memory>
#include <string>

namespace hwca::attest {
namespace {

// The label of the seed's protection: "IDENTITY" with its terminating zero.
constexpr char kIdentity[] = "IDENTITY";

tl::unexpected<Error> ossl_fail(const std::string& what) {
  return fail(ErrorKind::internal, "MakeCredential: " + what + ": " + ossl::take_errors());
}

std::string group_of(EVP_PKEY* key) {
  char name[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) !=
      1) {
    return {};
  }
  return std::string(name, len);
}

// An EC key's public x or y coordinate, left-padded to the field size.
Result<Bytes> coordinate(EVP_PKEY* key, const char* which) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, which, &raw) != 1) return ossl_fail("EC coordinate");
  ossl::Ptr<BIGNUM> bn(raw);
  Bytes out((EVP_PKEY_get_bits(key) + 7) / 8);
  if (BN_bn2binpad(bn.get(), out.data(), static_cast<int>(out.size())) < 0) {
    return ossl_fail("EC coordinate");
  }
  return out;
}

void put_tpm2b(Bytes& out, std::span<const uint8_t> data) {
  out.push_back(static_cast<uint8_t>(data.size() >> 8));
  out.push_back(static_cast<uint8_t>(data.size()));
  out.insert(out.end(), data.begin(), data.end());
}

// RSA: seed random (or given), encrypted with RSA-OAEP(nameAlg, label "IDENTITY\0").
Result<Bytes> rsa_seed(const EkPublic& ek, const MakeCredentialOptions& options, Bytes& seed) {
  seed = options.seed ? *options.seed : Bytes(hash_size(ek.name_alg));
  if (!options.seed && RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
    return ossl_fail("random seed");
  }
  ossl::Ptr<EVP_PKEY_CTX> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, ek.key.get(), ossl::kDefaultProps));
  void* label = OPENSSL_memdup(kIdentity, sizeof kIdentity);
  if (!ctx || label == nullptr || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx.get(), hash_name(ek.name_alg), nullptr) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx.get(), hash_name(ek.name_alg), nullptr) != 1 ||
      EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label, sizeof kIdentity) != 1) {
    OPENSSL_free(label);  // owned by ctx only once set0 succeeded; it is the last step
    return ossl_fail("RSA-OAEP");
  }
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, seed.data(), seed.size()) != 1) {
    return ossl_fail("RSA-OAEP");
  }
  Bytes out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, seed.data(), seed.size()) != 1) {
    return ossl_fail("RSA-OAEP");
  }
  out.resize(len);
  return out;
}

// ECC: an ephemeral key on the EK's curve; seed = KDFe(nameAlg, Z, "IDENTITY", ephemeral x,
// EK x); the encrypted secret is the ephemeral point (TPMS_ECC_POINT).
Result<Bytes> ecc_seed(const EkPublic& ek, const MakeCredentialOptions& options, Bytes& seed) {
  ossl::Ptr<EVP_PKEY> fresh;
  EVP_PKEY* eph = options.ephemeral;
  if (eph == nullptr) {
    std::string group = group_of(ek.key.get());
    fresh.reset(EVP_PKEY_Q_keygen(nullptr, ossl::kDefaultProps, "EC", group.c_str()));
    if (!fresh) return ossl_fail("ephemeral key");
    eph = fresh.get();
  }
  ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, eph, ossl::kDefaultProps));
  size_t zlen = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), ek.key.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &zlen) != 1) {
    return ossl_fail("ECDH");
  }
  Bytes z(zlen);
  if (EVP_PKEY_derive(ctx.get(), z.data(), &zlen) != 1) return ossl_fail("ECDH");
  z.resize(zlen);
  auto eph_x = coordinate(eph, OSSL_PKEY_PARAM_EC_PUB_X);
  auto eph_y = coordinate(eph, OSSL_PKEY_PARAM_EC_PUB_Y);
  auto ek_x = coordinate(ek.key.get(), OSSL_PKEY_PARAM_EC_PUB_X);
  if (!eph_x || !eph_y || !ek_x) return ossl_fail("EC coordinates");
  auto derived = kdfe(ek.name_alg, z, kIdentity, *eph_x, *ek_x, 8 * hash_size(ek.name_alg));
  OPENSSL_cleanse(z.data(), z.size());
  if (!derived) return tl::unexpected(derived.error());
  seed = std::move(*derived);
  Bytes point;
  put_tpm2b(point, *eph_x);
  put_tpm2b(point, *eph_y);
  return point;
}

Result<Bytes> aes_cfb(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  const char* name = key.size() == 16 ? "AES-128-CFB" : "AES-256-CFB";
  std::unique_ptr<EVP_CIPHER, decltype(&EVP_CIPHER_free)> cipher(
      EVP_CIPHER_fetch(nullptr, name, ossl::kDefaultProps), EVP_CIPHER_free);
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      EVP_CIPHER_CTX_free);
  const uint8_t iv[16] = {0};
  Bytes out(data.size() + 16);
  int len = 0, tail = 0;
  if (!cipher || !ctx ||
      EVP_EncryptInit_ex2(ctx.get(), cipher.get(), key.data(), iv, nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &len, data.data(), static_cast<int>(data.size())) !=
          1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &tail) != 1) {
    return ossl_fail("AES-CFB");
  }
  out.resize(static_cast<size_t>(len) + static_cast<size_t>(tail));
  return out;
}

Checked<EkPublic> make_ek(ossl::Ptr<EVP_PKEY> key, TPMI_ALG_HASH alg, uint16_t bits) {
  return EkPublic{std::move(key), alg, bits};
}

}  // namespace

Checked<EkPublic> ek_from_public(const TpmPublic& ek) {
  const TPMT_PUBLIC& a = ek.area;
  if ((a.objectAttributes & (kRestricted | kDecrypt)) != (kRestricted | kDecrypt)) {
    return refuse(Reason::unsupported_key, "EK: not a restricted decryption key");
  }
  const TPMT_SYM_DEF_OBJECT& sym =
      a.type == TPM2_ALG_RSA ? a.parameters.rsaDetail.symmetric : a.parameters.eccDetail.symmetric;
  if (sym.algorithm != TPM2_ALG_AES || sym.mode.aes != TPM2_ALG_CFB ||
      (sym.keyBits.aes != 128 && sym.keyBits.aes != 256)) {
    return refuse(Reason::unsupported_key, "EK: symmetric algorithm is not AES-128/256-CFB");
  }
  auto key = public_key(a);
  if (!key) return refuse(key.error().reason, "EK: " + key.error().message);
  return make_ek(std::move(*key), a.nameAlg, sym.keyBits.aes);
}

Checked<EkPublic> ek_from_key(EVP_PKEY* key) {
  if (key == nullptr) return refuse(Reason::malformed, "EK: no public key");
  EVP_PKEY_up_ref(key);
  ossl::Ptr<EVP_PKEY> own(key);
  if (EVP_PKEY_is_a(key, "RSA")) {
    switch (EVP_PKEY_get_bits(key)) {
      case 2048:
        return make_ek(std::move(own), TPM2_ALG_SHA256, 128);
      case 3072:
        return make_ek(std::move(own), TPM2_ALG_SHA384, 256);
      default:
        return refuse(Reason::unsupported_key, "EK: RSA key of an unknown template size");
    }
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    std::string group = group_of(key);
    if (group == "prime256v1" || group == "P-256") {
      return make_ek(std::move(own), TPM2_ALG_SHA256, 128);
    }
    if (group == "secp384r1" || group == "P-384") {
      return make_ek(std::move(own), TPM2_ALG_SHA384, 256);
    }
    return refuse(Reason::unsupported_key, "EK: ECC curve is not P-256 or P-384");
  }
  return refuse(Reason::unsupported_key, "EK: key is neither RSA nor ECC");
}

Checked<EkPublic> ek_from_certificate(X509* cert) {
  if (cert == nullptr) return refuse(Reason::malformed, "EK certificate: none");
  return ek_from_key(X509_get0_pubkey(cert));
}

Result<Credential> make_credential(const EkPublic& ek, std::span<const uint8_t> object_name,
                                   std::span<const uint8_t> credential,
                                   const MakeCredentialOptions& options) {
  const size_t hlen = hash_size(ek.name_alg);
  if (hlen == 0 || !ek.key || (ek.aes_bits != 128 && ek.aes_bits != 256)) {
    return fail(ErrorKind::usage, "MakeCredential: EK parameters not supported");
  }
  if (credential.empty() || credential.size() > hlen) {
    return fail(ErrorKind::usage,
                "MakeCredential: the credential must be 1 to " + std::to_string(hlen) + " bytes");
  }
  if (object_name.size() < 2 + 32 || object_name.size() > sizeof(TPMU_NAME)) {
    return fail(ErrorKind::usage, "MakeCredential: not a TPM object name");
  }
  if (options.seed && options.seed->size() != hlen) {
    return fail(ErrorKind::usage, "MakeCredential: the seed must be the nameAlg's size");
  }
  Bytes seed;
  Result<Bytes> encrypted = EVP_PKEY_is_a(ek.key.get(), "RSA") ? rsa_seed(ek, options, seed)
                                                               : ecc_seed(ek, options, seed);
  if (!encrypted) return tl::unexpected(encrypted.error());
  auto blob = credential_blob(ek, seed, object_name, credential);
  OPENSSL_cleanse(seed.data(), seed.size());
  if (!blob) return tl::unexpected(blob.error());

  TPM2B_ENCRYPTED_SECRET secret{};
  if (encrypted->size() > sizeof secret.secret) {
    return fail(ErrorKind::internal, "MakeCredential: encrypted seed too large");
  }
  secret.size = static_cast<UINT16>(encrypted->size());
  std::memcpy(secret.secret, encrypted->data(), encrypted->size());
  Credential out{std::move(*blob), Bytes(sizeof secret + 2)};
  size_t secret_len = 0;
  if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&secret, out.encrypted_secret.data(),
                                             out.encrypted_secret.size(),
                                             &secret_len) != TSS2_RC_SUCCESS) {
    return fail(ErrorKind::internal, "MakeCredential: cannot marshal the encrypted seed");
  }
  out.encrypted_secret.resize(secret_len);
  return out;
}

Result<Bytes> credential_blob(const EkPublic& ek, std::span<const uint8_t> seed,
                              std::span<const uint8_t> object_name,
                              std::span<const uint8_t> credential) {
  const size_t hlen = hash_size(ek.name_alg);
  if (hlen == 0 || seed.size() != hlen || credential.empty() || credential.size() > hlen) {
    return fail(ErrorKind::usage, "MakeCredential: seed or credential of the wrong size");
  }
  if (object_name.size() < 2 + 32 || object_name.size() > sizeof(TPMU_NAME)) {
    return fail(ErrorKind::usage, "MakeCredential: not a TPM object name");
  }
  auto sym_key = kdfa(ek.name_alg, seed, "STORAGE", object_name, {}, ek.aes_bits);
  auto hmac_key = kdfa(ek.name_alg, seed, "INTEGRITY", {}, {}, 8 * hlen);
  if (!sym_key) return tl::unexpected(sym_key.error());
  if (!hmac_key) return tl::unexpected(hmac_key.error());

  Bytes plain;  // TPM2B_DIGEST(credential)
  put_tpm2b(plain, credential);
  auto enc_identity = aes_cfb(*sym_key, plain);
  OPENSSL_cleanse(sym_key->data(), sym_key->size());
  OPENSSL_cleanse(plain.data(), plain.size());
  if (!enc_identity) return tl::unexpected(enc_identity.error());
  Bytes mac_input = *enc_identity;
  mac_input.insert(mac_input.end(), object_name.begin(), object_name.end());
  auto outer = hmac(ek.name_alg, *hmac_key, mac_input);
  OPENSSL_cleanse(hmac_key->data(), hmac_key->size());
  if (!outer) return tl::unexpected(outer.error());

  Bytes blob;  // TPM2B_DIGEST(outerHMAC) || encIdentity
  put_tpm2b(blob, *outer);
  blob.insert(blob.end(), enc_identity->begin(), enc_identity->end());
  TPM2B_ID_OBJECT id{};
  if (blob.size() > sizeof id.credential) {
    return fail(ErrorKind::internal, "MakeCredential: credential blob too large");
  }
  id.size = static_cast<UINT16>(blob.size());
  std::memcpy(id.credential, blob.data(), blob.size());
  Bytes out(sizeof id + 2);
  size_t id_len = 0;
  if (Tss2_MU_TPM2B_ID_OBJECT_Marshal(&id, out.data(), out.size(), &id_len) != TSS2_RC_SUCCESS) {
    return fail(ErrorKind::internal, "MakeCredential: cannot marshal the credential blob");
  }
  out.resize(id_len);
  return out;
}

}  // namespace hwca::attest
