#include <cstdarg>

#include "common/text.hpp"
#include "providers/provider.hpp"

namespace hwca::provider {

const EVP_MD* ProvCtx::digest(const std::string& canonical_name) {
  std::call_once(digests_once_, [this] {
    sha256_ = EVP_MD_fetch(libctx, "SHA256", nullptr);
    sha384_ = EVP_MD_fetch(libctx, "SHA384", nullptr);
    sha512_ = EVP_MD_fetch(libctx, "SHA512", nullptr);
    ERR_clear_error();
  });
  if (canonical_name == "SHA256") return sha256_;
  if (canonical_name == "SHA384") return sha384_;
  if (canonical_name == "SHA512") return sha512_;
  return nullptr;
}

ProvCtx::~ProvCtx() {
  EVP_MD_free(sha256_);
  EVP_MD_free(sha384_);
  EVP_MD_free(sha512_);
}

Key Key::copy() const {
  Key k;
  k.signer = signer;
  k.rsa = rsa;
  if (pub && EVP_PKEY_up_ref(pub.get()) == 1) k.pub.reset(pub.get());
  return k;
}

namespace {

void vraise(const ProvCtx* ctx, int reason, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  if (ctx != nullptr && ctx->new_error != nullptr && ctx->vset_error != nullptr) {
    ctx->new_error(ctx->handle);
    ctx->vset_error(ctx->handle, reason, fmt, args);
  } else {
    ERR_new();
    ERR_vset_error(ERR_LIB_PROV, reason, fmt, args);
  }
  va_end(args);
}

}  // namespace

void raise(const ProvCtx* ctx, int reason, const std::string& message) {
  vraise(ctx, reason, "%s", printable(message).c_str());
}

void raise(const ProvCtx* ctx, const Error& error) {
  raise(ctx, kReasonKindBase + static_cast<int>(error.kind), error.message);
}

}  // namespace hwca::provider
