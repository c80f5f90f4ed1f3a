// SIGNATURE for ECDSA and RSA (PKCS#1 v1.5 and PSS). The message is hashed here, on the
// host, and the token signs the digest once, in final. The context holds only a digest
// context and settings, so dupctx (OpenSSL calls it mid-operation) is cheap. Verification
// is delegated to the default provider with the public key.
#include <openssl/params.h>
#include <openssl/rsa.h>

#include <cstring>

#include "providers/algorithm_id.hpp"
#include "providers/dispatch.hpp"
#include "providers/provider.hpp"
#include "tokens/sig_encoding.hpp"

using hwca::Error;
using hwca::ErrorKind;
using hwca::Result;
using hwca::provider::guarded;
using hwca::provider::Key;
using hwca::provider::ProvCtx;
namespace ossl = hwca::ossl;

namespace {

// The dispatched functions, declared with OpenSSL's types so that the compiler checks them.
extern "C" {
OSSL_FUNC_signature_newctx_fn hwca_rsa_sig_newctx, hwca_ecdsa_sig_newctx;
OSSL_FUNC_signature_freectx_fn hwca_sig_freectx;
OSSL_FUNC_signature_dupctx_fn hwca_sig_dupctx;
OSSL_FUNC_signature_sign_init_fn hwca_sig_sign_init;
OSSL_FUNC_signature_sign_fn hwca_sig_sign;
OSSL_FUNC_signature_verify_init_fn hwca_sig_verify_init;
OSSL_FUNC_signature_verify_fn hwca_sig_verify;
OSSL_FUNC_signature_digest_sign_init_fn hwca_sig_digest_sign_init;
OSSL_FUNC_signature_digest_verify_init_fn hwca_sig_digest_verify_init;
OSSL_FUNC_signature_digest_sign_update_fn hwca_sig_digest_update;
OSSL_FUNC_signature_digest_sign_final_fn hwca_sig_digest_sign_final;
OSSL_FUNC_signature_digest_verify_final_fn hwca_sig_digest_verify_final;
OSSL_FUNC_signature_get_ctx_params_fn hwca_sig_get_ctx_params;
OSSL_FUNC_signature_set_ctx_params_fn hwca_sig_set_ctx_params;
OSSL_FUNC_signature_gettable_ctx_params_fn hwca_ecdsa_sig_gettable, hwca_rsa_sig_gettable;
OSSL_FUNC_signature_settable_ctx_params_fn hwca_ecdsa_sig_settable, hwca_rsa_sig_settable;
}

enum class Op { none, sign, verify };

struct SigCtx {
  ProvCtx* prov = nullptr;
  bool rsa = false;
  Op op = Op::none;
  Key key;
  std::string digest;  // "SHA256", "SHA384" or "SHA512"; empty until set
  ossl::Ptr<EVP_MD_CTX> mdctx;
  bool pss = false;
  int salt_len = RSA_PSS_SALTLEN_DIGEST;
  std::string mgf1;  // empty: same as digest
};

// The canonical name of a digest hwca signs with, or an error for any other. The usual
// spellings are recognised directly; others (OIDs, aliases) through a fetch.
Result<std::string> canonical_digest(ProvCtx* prov, const char* name) {
  for (const char* canonical : {"SHA256", "SHA384", "SHA512"}) {
    const char* bits = canonical + 3;  // "256"...
    if (OPENSSL_strcasecmp(name, canonical) == 0 ||
        (OPENSSL_strncasecmp(name, "SHA-", 4) == 0 && std::strcmp(name + 4, bits) == 0) ||
        (OPENSSL_strncasecmp(name, "SHA2-", 5) == 0 && std::strcmp(name + 5, bits) == 0)) {
      return std::string(canonical);
    }
  }
  ossl::Ptr<EVP_MD> md(EVP_MD_fetch(prov != nullptr ? prov->libctx : nullptr, name, nullptr));
  int nid = md ? EVP_MD_get_type(md.get()) : NID_undef;
  ERR_clear_error();
  switch (nid) {
    case NID_sha256:
      return std::string("SHA256");
    case NID_sha384:
      return std::string("SHA384");
    case NID_sha512:
      return std::string("SHA512");
    default:
      return hwca::fail(ErrorKind::usage, std::string("digest '") + name +
                                              "' is not supported by hwca (use SHA-256, "
                                              "SHA-384 or SHA-512)");
  }
}

int fail_with(SigCtx* ctx, const Error& e) {
  hwca::provider::raise(ctx != nullptr ? ctx->prov : nullptr, e);
  return 0;
}

int fail_with(SigCtx* ctx, const std::string& message) {
  return fail_with(ctx, Error{ErrorKind::usage, message});
}

int set_digest(SigCtx* ctx, const char* name) {
  auto d = canonical_digest(ctx->prov, name);
  if (!d) return fail_with(ctx, d.error());
  ctx->digest = *d;
  return 1;
}

int set_params(SigCtx* ctx, const OSSL_PARAM params[]) {
  if (params == nullptr) return 1;
  const OSSL_PARAM* p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST);
  if (p != nullptr) {
    const char* name = nullptr;
    if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1 || set_digest(ctx, name) != 1) return 0;
  }
  if (!ctx->rsa) return 1;
  p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
  if (p != nullptr) {
    int mode = 0;
    if (p->data_type == OSSL_PARAM_UTF8_STRING) {
      const char* s = static_cast<const char*>(p->data);
      mode = std::strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0 ? RSA_PKCS1_PADDING
             : std::strcmp(s, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0   ? RSA_PKCS1_PSS_PADDING
                                                                 : -1;
    } else if (OSSL_PARAM_get_int(p, &mode) != 1) {
      return 0;
    }
    if (mode != RSA_PKCS1_PADDING && mode != RSA_PKCS1_PSS_PADDING) {
      return fail_with(ctx, "RSA padding mode not supported by hwca (use pkcs1 or pss)");
    }
    ctx->pss = mode == RSA_PKCS1_PSS_PADDING;
  }
  p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
  if (p != nullptr) {
    int len = 0;
    if (p->data_type == OSSL_PARAM_UTF8_STRING) {
      const char* s = static_cast<const char*>(p->data);
      if (std::strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0)
        len = RSA_PSS_SALTLEN_DIGEST;
      else if (std::strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_MAX) == 0)
        len = RSA_PSS_SALTLEN_MAX;
      else if (std::strcmp(s, OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO) == 0)
        len = RSA_PSS_SALTLEN_AUTO;
      else
        len = std::atoi(s);
    } else if (OSSL_PARAM_get_int(p, &len) != 1) {
      return 0;
    }
    if (len < RSA_PSS_SALTLEN_MAX) return fail_with(ctx, "invalid RSA-PSS salt length");
    ctx->salt_len = len;
  }
  p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST);
  if (p != nullptr) {
    const char* name = nullptr;
    if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1) return 0;
    auto d = canonical_digest(ctx->prov, name);
    if (!d) return fail_with(ctx, d.error());
    ctx->mgf1 = *d;
  }
  return 1;
}

// The salt length in bytes, resolved against the key and digest.
Result<int> resolved_salt(const SigCtx* ctx) {
  int hlen = static_cast<int>(hwca::tokens::signing_digest_size(ctx->digest));
  int em_len = (EVP_PKEY_get_bits(ctx->key.pub.get()) - 1 + 7) / 8;
  int max = em_len - hlen - 2;
  int len = ctx->salt_len;
  if (len == RSA_PSS_SALTLEN_DIGEST)
    len = hlen;
  else if (len == RSA_PSS_SALTLEN_AUTO || len == RSA_PSS_SALTLEN_MAX)
    len = max;
  if (len < 0 || len > max) {
    return hwca::fail(ErrorKind::usage, "RSA-PSS salt length " + std::to_string(len) +
                                            " does not fit this key and digest");
  }
  return len;
}

int start(SigCtx* ctx, void* provkey, const OSSL_PARAM params[], Op op) {
  const Key* key = static_cast<const Key*>(provkey);
  if (key == nullptr) {
    if (ctx->op == Op::none) return fail_with(ctx, "no key given");
  } else {
    if (!key->pub || key->rsa != ctx->rsa) return fail_with(ctx, "the key does not fit");
    ctx->key = key->copy();
  }
  if (op == Op::sign && !ctx->key.signer) {
    return fail_with(ctx, "this key has no private half in a token (it is a public key)");
  }
  ctx->op = op;
  return set_params(ctx, params);
}

size_t max_signature_size(const SigCtx* ctx) {
  return static_cast<size_t>(EVP_PKEY_get_size(ctx->key.pub.get()));
}

int sign_hash(SigCtx* ctx, unsigned char* sig, size_t* siglen, size_t sigsize,
              const unsigned char* hash, size_t hash_len) {
  if (ctx->op != Op::sign) return fail_with(ctx, "signature context not initialised to sign");
  if (sig == nullptr) {
    *siglen = max_signature_size(ctx);
    return 1;
  }
  if (ctx->digest.empty()) {  // pre-hashed input without a digest name: infer it
    const char* by_len = hash_len == 32   ? "SHA256"
                         : hash_len == 48 ? "SHA384"
                         : hash_len == 64 ? "SHA512"
                                          : nullptr;
    if (by_len == nullptr) return fail_with(ctx, "cannot tell the digest of the input");
    ctx->digest = by_len;
  }
  hwca::tokens::SignRequest req;
  req.scheme = !ctx->rsa  ? hwca::tokens::SigScheme::ecdsa
               : ctx->pss ? hwca::tokens::SigScheme::rsa_pss
                          : hwca::tokens::SigScheme::rsa_pkcs1;
  req.digest = ctx->digest;
  req.hash = std::span<const uint8_t>(hash, hash_len);
  req.mgf1_digest = ctx->mgf1.empty() ? ctx->digest : ctx->mgf1;
  if (ctx->pss) {
    auto salt = resolved_salt(ctx);
    if (!salt) return fail_with(ctx, salt.error());
    req.pss_salt_len = *salt;
  }
  auto out = ctx->key.signer->sign(req);
  if (!out) return fail_with(ctx, out.error());
  if (out->size() > sigsize) return fail_with(ctx, "signature buffer too small");
  std::memcpy(sig, out->data(), out->size());
  *siglen = out->size();
  return 1;
}

int verify_hash(SigCtx* ctx, const unsigned char* sig, size_t siglen, const unsigned char* hash,
                size_t hash_len) {
  if (ctx->op != Op::verify) return fail_with(ctx, "signature context not initialised to verify");
  ossl::Ptr<EVP_PKEY_CTX> pctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, ctx->key.pub.get(), ossl::kDefaultProps));
  if (!pctx || EVP_PKEY_verify_init(pctx.get()) != 1) return 0;
  if (!ctx->digest.empty()) {
    const EVP_MD* md = ctx->prov->digest(ctx->digest);
    if (md == nullptr || EVP_PKEY_CTX_set_signature_md(pctx.get(), md) != 1) return 0;
  }
  if (ctx->rsa) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx.get(),
                                     ctx->pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING) != 1) {
      return 0;
    }
    if (ctx->pss) {
      int salt = ctx->salt_len == RSA_PSS_SALTLEN_MAX ? RSA_PSS_SALTLEN_AUTO : ctx->salt_len;
      const EVP_MD* mgf = ctx->prov->digest(ctx->mgf1.empty() ? ctx->digest : ctx->mgf1);
      if (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx.get(), salt) != 1 || mgf == nullptr ||
          EVP_PKEY_CTX_set_rsa_mgf1_md(pctx.get(), mgf) != 1) {
        return 0;
      }
    }
  }
  return EVP_PKEY_verify(pctx.get(), sig, siglen, hash, hash_len) == 1 ? 1 : 0;
}

int digest_start(SigCtx* ctx, const char* mdname, void* provkey, const OSSL_PARAM params[], Op op) {
  if (start(ctx, provkey, params, op) != 1) return 0;
  if (set_digest(ctx, mdname != nullptr && *mdname != '\0' ? mdname : "SHA256") != 1) return 0;
  const EVP_MD* md = ctx->prov->digest(ctx->digest);
  if (!ctx->mdctx) ctx->mdctx.reset(EVP_MD_CTX_new());
  if (md == nullptr || !ctx->mdctx || EVP_DigestInit_ex2(ctx->mdctx.get(), md, nullptr) != 1) {
    return fail_with(ctx, Error{ErrorKind::internal, "cannot start the digest"});
  }
  return 1;
}

int finish_digest(SigCtx* ctx, unsigned char* hash, unsigned int* hash_len) {
  if (!ctx->mdctx) return fail_with(ctx, "digest not started");
  return EVP_DigestFinal_ex(ctx->mdctx.get(), hash, hash_len);
}

// --- dispatch functions ------------------------------------------------------------------

void* newctx(void* provctx, bool rsa) {
  return guarded(static_cast<ProvCtx*>(provctx), static_cast<void*>(nullptr), [&]() -> void* {
    auto* ctx = new SigCtx();
    ctx->prov = static_cast<ProvCtx*>(provctx);
    ctx->rsa = rsa;
    return ctx;
  });
}
extern "C" void* hwca_rsa_sig_newctx(void* provctx, const char*) { return newctx(provctx, true); }
extern "C" void* hwca_ecdsa_sig_newctx(void* provctx, const char*) {
  return newctx(provctx, false);
}

extern "C" void hwca_sig_freectx(void* vctx) { delete static_cast<SigCtx*>(vctx); }

extern "C" void* hwca_sig_dupctx(void* vctx) {
  auto* from = static_cast<SigCtx*>(vctx);
  return guarded(from->prov, static_cast<void*>(nullptr), [&]() -> void* {
    auto* ctx = new SigCtx();
    ctx->prov = from->prov;
    ctx->rsa = from->rsa;
    ctx->op = from->op;
    ctx->key = from->key.copy();
    ctx->digest = from->digest;
    ctx->pss = from->pss;
    ctx->salt_len = from->salt_len;
    ctx->mgf1 = from->mgf1;
    if (from->mdctx) {
      ctx->mdctx.reset(EVP_MD_CTX_new());
      if (!ctx->mdctx || EVP_MD_CTX_copy_ex(ctx->mdctx.get(), from->mdctx.get()) != 1) {
        delete ctx;
        return nullptr;
      }
    }
    return ctx;
  });
}

extern "C" int hwca_sig_sign_init(void* vctx, void* key, const OSSL_PARAM params[]) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  return guarded(ctx->prov, 0, [&] { return start(ctx, key, params, Op::sign); });
}

extern "C" int hwca_sig_sign(void* vctx, unsigned char* sig, size_t* siglen, size_t sigsize,
                             const unsigned char* tbs, size_t tbslen) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  return guarded(ctx->prov, 0, [&] { return sign_hash(ctx, sig, siglen, sigsize, tbs, tbslen); });
}

extern "C" int hwca_sig_verify_init(void* vctx, void* key, const OSSL_PARAM params[]) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  return guarded(ctx->prov, 0, [&] { return start(ctx, key, params, Op::verify); });
}

extern "C" int hwca_sig_verify(void* vctx, const unsigned char* sig, size_t siglen,
                               const unsigned char* tbs, size_t tbslen) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  return guarded(ctx->prov, 0, [&] { return verify_hash(ctx, sig, siglen, tbs, tbslen); });
}

extern "C" int hwca_sig_digest_sign_init(void* vctx, const char* mdname, void* key,
                                         const OSSL_PARAM params[]) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  return guarded(ctx->prov, 0, [&] { return digest_start(ctx, mdname, key, params, Op::sign); });
}

extern "C" int hwca_sig_digest_verify_init(void* vctx, const char* mdname, void* key,
                                           const OSSL_PARAM params[]) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  return guarded(ctx->prov, 0, [&] { return digest_start(ctx, mdname, key, params, Op::verify); });
}

extern "C" int hwca_sig_digest_update(void* vctx, const unsigned char* data, size_t len) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  if (!ctx->mdctx) return fail_with(ctx, "digest not started");
  return EVP_DigestUpdate(ctx->mdctx.get(), data, len);
}

extern "C" int hwca_sig_digest_sign_final(void* vctx, unsigned char* sig, size_t* siglen,
                                          size_t sigsize) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  return guarded(ctx->prov, 0, [&] {
    if (sig == nullptr) {  // a size query must leave the digest untouched
      *siglen = max_signature_size(ctx);
      return 1;
    }
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int hash_len = 0;
    if (finish_digest(ctx, hash, &hash_len) != 1) return 0;
    return sign_hash(ctx, sig, siglen, sigsize, hash, hash_len);
  });
}

extern "C" int hwca_sig_digest_verify_final(void* vctx, const unsigned char* sig, size_t siglen) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  return guarded(ctx->prov, 0, [&] {
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int hash_len = 0;
    if (finish_digest(ctx, hash, &hash_len) != 1) return 0;
    return verify_hash(ctx, sig, siglen, hash, hash_len);
  });
}

int get_algorithm_id(SigCtx* ctx, OSSL_PARAM* p) {
  if (ctx->digest.empty()) return fail_with(ctx, "no digest chosen yet");
  Result<std::vector<unsigned char>> der;
  if (!ctx->rsa) {
    der = hwca::provider::ecdsa_algorithm_id(ctx->digest);
  } else if (!ctx->pss) {
    der = hwca::provider::rsa_pkcs1_algorithm_id(ctx->digest);
  } else {
    auto salt = resolved_salt(ctx);
    if (!salt) return fail_with(ctx, salt.error());
    der = hwca::provider::rsa_pss_algorithm_id(ctx->digest,
                                               ctx->mgf1.empty() ? ctx->digest : ctx->mgf1, *salt);
  }
  if (!der) return fail_with(ctx, der.error());
  return OSSL_PARAM_set_octet_string(p, der->data(), der->size());
}

extern "C" int hwca_sig_get_ctx_params(void* vctx, OSSL_PARAM params[]) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  return guarded(ctx->prov, 0, [&] {
    OSSL_PARAM* p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
    if (p != nullptr && get_algorithm_id(ctx, p) != 1) return 0;
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST);
    if (p != nullptr && OSSL_PARAM_set_utf8_string(p, ctx->digest.c_str()) != 1) return 0;
    if (!ctx->rsa) return 1;
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE);
    if (p != nullptr) {
      int mode = ctx->pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING;
      int ok = p->data_type == OSSL_PARAM_UTF8_STRING
                   ? OSSL_PARAM_set_utf8_string(
                         p, ctx->pss ? OSSL_PKEY_RSA_PAD_MODE_PSS : OSSL_PKEY_RSA_PAD_MODE_PKCSV15)
                   : OSSL_PARAM_set_int(p, mode);
      if (ok != 1) return 0;
    }
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
    if (p != nullptr) {
      int ok = p->data_type == OSSL_PARAM_UTF8_STRING
                   ? OSSL_PARAM_set_utf8_string(p, std::to_string(ctx->salt_len).c_str())
                   : OSSL_PARAM_set_int(p, ctx->salt_len);
      if (ok != 1) return 0;
    }
    p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST);
    if (p != nullptr &&
        OSSL_PARAM_set_utf8_string(p, (ctx->mgf1.empty() ? ctx->digest : ctx->mgf1).c_str()) != 1) {
      return 0;
    }
    return 1;
  });
}

extern "C" int hwca_sig_set_ctx_params(void* vctx, const OSSL_PARAM params[]) {
  auto* ctx = static_cast<SigCtx*>(vctx);
  return guarded(ctx->prov, 0, [&] { return set_params(ctx, params); });
}

const OSSL_PARAM kEcdsaGettable[] = {
    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0), OSSL_PARAM_END};
const OSSL_PARAM kEcdsaSettable[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, nullptr, 0), OSSL_PARAM_END};
const OSSL_PARAM kRsaGettable[] = {
    OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, nullptr, 0),
    OSSL_PARAM_END};
const OSSL_PARAM kRsaSettable[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, nullptr, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, nullptr, 0),
    OSSL_PARAM_END};

extern "C" const OSSL_PARAM* hwca_ecdsa_sig_gettable(void*, void*) { return kEcdsaGettable; }
extern "C" const OSSL_PARAM* hwca_ecdsa_sig_settable(void*, void*) { return kEcdsaSettable; }
extern "C" const OSSL_PARAM* hwca_rsa_sig_gettable(void*, void*) { return kRsaGettable; }
extern "C" const OSSL_PARAM* hwca_rsa_sig_settable(void*, void*) { return kRsaSettable; }

// The entries both algorithms share.
#define HWCA_SIG_COMMON                                                                           \
  HWCA_DISPATCH(signature, FREECTX, freectx, hwca_sig_freectx),                                   \
      HWCA_DISPATCH(signature, DUPCTX, dupctx, hwca_sig_dupctx),                                  \
      HWCA_DISPATCH(signature, SIGN_INIT, sign_init, hwca_sig_sign_init),                         \
      HWCA_DISPATCH(signature, SIGN, sign, hwca_sig_sign),                                        \
      HWCA_DISPATCH(signature, VERIFY_INIT, verify_init, hwca_sig_verify_init),                   \
      HWCA_DISPATCH(signature, VERIFY, verify, hwca_sig_verify),                                  \
      HWCA_DISPATCH(signature, DIGEST_SIGN_INIT, digest_sign_init, hwca_sig_digest_sign_init),    \
      HWCA_DISPATCH(signature, DIGEST_SIGN_UPDATE, digest_sign_update, hwca_sig_digest_update),   \
      HWCA_DISPATCH(signature, DIGEST_SIGN_FINAL, digest_sign_final, hwca_sig_digest_sign_final), \
      HWCA_DISPATCH(signature, DIGEST_VERIFY_INIT, digest_verify_init,                            \
                    hwca_sig_digest_verify_init),                                                 \
      HWCA_DISPATCH(signature, DIGEST_VERIFY_UPDATE, digest_verify_update,                        \
                    hwca_sig_digest_update),                                                      \
      HWCA_DISPATCH(signature, DIGEST_VERIFY_FINAL, digest_verify_final,                          \
                    hwca_sig_digest_verify_final),                                                \
      HWCA_DISPATCH(signature, GET_CTX_PARAMS, get_ctx_params, hwca_sig_get_ctx_params),          \
      HWCA_DISPATCH(signature, SET_CTX_PARAMS, set_ctx_params, hwca_sig_set_ctx_params)

}  // namespace

extern "C" const OSSL_DISPATCH hwca_rsa_signature_functions[] = {
    HWCA_DISPATCH(signature, NEWCTX, newctx, hwca_rsa_sig_newctx),
    HWCA_SIG_COMMON,
    HWCA_DISPATCH(signature, GETTABLE_CTX_PARAMS, gettable_ctx_params, hwca_rsa_sig_gettable),
    HWCA_DISPATCH(signature, SETTABLE_CTX_PARAMS, settable_ctx_params, hwca_rsa_sig_settable),
    {0, nullptr}};

extern "C" const OSSL_DISPATCH hwca_ecdsa_signature_functions[] = {
    HWCA_DISPATCH(signature, NEWCTX, newctx, hwca_ecdsa_sig_newctx),
    HWCA_SIG_COMMON,
    HWCA_DISPATCH(signature, GETTABLE_CTX_PARAMS, gettable_ctx_params, hwca_ecdsa_sig_gettable),
    HWCA_DISPATCH(signature, SETTABLE_CTX_PARAMS, settable_ctx_params, hwca_ecdsa_sig_settable),
    {0, nullptr}};
