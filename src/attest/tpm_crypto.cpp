#include "attest/tpm_crypto.hpp"

#include <openssl/evp.h>

#include "common/ossl.hpp"

namespace hwca::attest {
namespace {

void put_u32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

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

Result<Bytes> kdfa(TPMI_ALG_HASH alg, std::span<const uint8_t> key, std::string_view label,
                   std::span<const uint8_t> context_u, std::span<const uint8_t> context_v,
                   size_t bits) {
  if (auto ok = check_kdf(alg, bits); !ok) return tl::unexpected(ok.error());
  Bytes out;
  for (uint32_t i = 1; out.size() < bits / 8; ++i) {
    Bytes in;
    put_u32(in, i);
    append_label(in, label);
    append(in, context_u);
    append(in, context_v);
    put_u32(in, static_cast<uint32_t>(bits));
    auto block = hmac(alg, key, in);
    if (!block) return block;
    append(out, *block);
  }
  out.resize(bits / 8);
  return out;
}

Result<Bytes> kdfe(TPMI_ALG_HASH alg, std::span<const uint8_t> z, std::string_view label,
                   std::span<const uint8_t> party_u, std::span<const uint8_t> party_v,
                   size_t bits) {
  if (auto ok = check_kdf(alg, bits); !ok) return tl::unexpected(ok.error());
  Bytes out;
  for (uint32_t i = 1; out.size() < bits / 8; ++i) {
    Bytes in;
    put_u32(in, i);
    append(in, z);
    append_label(in, label);
    append(in, party_u);
    append(in, party_v);
    auto block = digest(alg, in);
    if (!block) return block;
    append(out, *block);
  }
  out.resize(bits / 8);
  return out;
}

}  // namespace hwca::attest
