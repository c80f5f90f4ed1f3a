#include "attest/tpm_crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "common/ossl.hpp"

namespace hwca::attest {
namespace {

void append(Bytes& out, std::span<const uint8_t> data) {
  out.insert(out.end(), data.begin(), data.end());
}

void append_label(Bytes& out, std::string_view label) {
  out.insert(out.end(), label.begin(), label.end());
  out.push_back(0);
}

Status check_kdf(TPMI_ALG_HASH alg, size_t bits) {
  if (hash_name(alg) == nullptr) return fail(ErrorKind::internal, "KDF: hash not supported");
  if (bits == 0 || bits % 8 != 0 || bits > size_t{8} * 1024) {
    return fail(ErrorKind::internal, "KDF: bad output size");
  }
  return {};
}

}  // namespace

const char* hash_name(TPMI_ALG_HASH alg) {
  switch (alg) {
    case TPM2_ALG_SHA256:
      return "SHA256";
    case TPM2_ALG_SHA384:
      return "SHA384";
    case TPM2_ALG_SHA512:
      return "SHA512";
    default:
      return nullptr;
  }
}

size_t hash_size(TPMI_ALG_HASH alg) {
  switch (alg) {
    case TPM2_ALG_SHA256:
      return 32;
    case TPM2_ALG_SHA384:
      return 48;
    case TPM2_ALG_SHA512:
      return 64;
    default:
      return 0;
  }
}

Result<Bytes> digest(TPMI_ALG_HASH alg, std::span<const uint8_t> data) {
  const char* name = hash_name(alg);
  if (name == nullptr) return fail(ErrorKind::internal, "digest: hash not supported");
  Bytes out(EVP_MAX_MD_SIZE);
  size_t len = 0;
  if (EVP_Q_digest(nullptr, name, ossl::kDefaultProps, data.data(), data.size(), out.data(),
                   &len) != 1) {
    return fail(ErrorKind::internal, "digest: " + ossl::take_errors());
  }
  out.resize(len);
  return out;
}

Result<Bytes> hmac(TPMI_ALG_HASH alg, std::span<const uint8_t> key, std::span<const uint8_t> data) {
  const char* name = hash_name(alg);
  if (name == nullptr) return fail(ErrorKind::internal, "HMAC: hash not supported");
  Bytes out(EVP_MAX_MD_SIZE);
  size_t len = 0;
  if (EVP_Q_mac(nullptr, "HMAC", ossl::kDefaultProps, name, nullptr, key.data(), key.size(),
                data.data(), data.size(), out.data(), out.size(), &len) == nullptr) {
    return fail(ErrorKind::internal, "HMAC: " + ossl::take_errors());
  }
  out.resize(len);
  return out;
}

namespace {

// `bytes` of key material from OpenSSL's KDF `kdf` (default provider) with `params`.
Result<Bytes> derive(const char* kdf, const OSSL_PARAM* params, size_t bytes) {
  ossl::Ptr<EVP_KDF> k(EVP_KDF_fetch(nullptr, kdf, ossl::kDefaultProps));
  ossl::Ptr<EVP_KDF_CTX> ctx(k ? EVP_KDF_CTX_new(k.get()) : nullptr);
  Bytes out(bytes);
  if (!ctx || EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    return fail(ErrorKind::internal, std::string(kdf) + ": " + ossl::take_errors());
  }
  return out;
}

// OSSL_PARAMs take non-const buffers; the KDFs only read them.
void* in(std::span<const uint8_t> data) { return const_cast<uint8_t*>(data.data()); }

}  // namespace

// KDFa is SP 800-108 in counter mode with HMAC (OpenSSL's KBKDF): a 32-bit counter, the
// label, a zero byte (the TPM's label carries it), the context, the length in bits.
Result<Bytes> kdfa(TPMI_ALG_HASH alg, std::span<const uint8_t> key, std::string_view label,
                   std::span<const uint8_t> context_u, std::span<const uint8_t> context_v,
                   size_t bits) {
  if (auto ok = check_kdf(alg, bits); !ok) return tl::unexpected(ok.error());
  Bytes context(context_u.begin(), context_u.end());
  append(context, context_v);
  const OSSL_PARAM params[] = {
      OSSL_PARAM_utf8_string("mac", const_cast<char*>("HMAC"), 0),
      OSSL_PARAM_utf8_string("digest", const_cast<char*>(hash_name(alg)), 0),
      OSSL_PARAM_octet_string("key", in(key), key.size()),
      OSSL_PARAM_octet_string("salt", const_cast<char*>(label.data()), label.size()),
      OSSL_PARAM_octet_string("info", context.data(), context.size()),
      OSSL_PARAM_END};
  return derive("KBKDF", params, bits / 8);
}

// KDFe is SP 800-56A's single-step KDF with a hash (OpenSSL's SSKDF): the counter, Z, then
// the label with its zero byte and the two parties' x-coordinates as the other info.
Result<Bytes> kdfe(TPMI_ALG_HASH alg, std::span<const uint8_t> z, std::string_view label,
                   std::span<const uint8_t> party_u, std::span<const uint8_t> party_v,
                   size_t bits) {
  if (auto ok = check_kdf(alg, bits); !ok) return tl::unexpected(ok.error());
  Bytes info;
  append_label(info, label);
  append(info, party_u);
  append(info, party_v);
  const OSSL_PARAM params[] = {
      OSSL_PARAM_utf8_string("digest", const_cast<char*>(hash_name(alg)), 0),
      OSSL_PARAM_octet_string("key", in(z), z.size()),
      OSSL_PARAM_octet_string("info", info.data(), info.size()), OSSL_PARAM_END};
  return derive("SSKDF", params, bits / 8);
}

}  // namespace hwca::attest
