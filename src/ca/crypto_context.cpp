#include "ca/crypto_context.hpp"

#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/ui.h>

#include <atomic>
#include <optional>

#include "providers/provider_init.h"
#include "providers/store_params.hpp"

namespace hwca::ca {
namespace {

constexpr const char* kProviderName = "hwca";
constexpr int kReasonKindBase = HWCA_REASON_KIND_BASE;

// OpenSSL hands our prompt callback to the provider's STORE as its passphrase callback.
int ui_read(UI* ui, UI_STRING* uis) {
  auto* prompt = static_cast<const PinCallback*>(UI_get0_user_data(ui));
  if (prompt == nullptr || !*prompt) return 0;
  switch (UI_get_string_type(uis)) {
    case UIT_PROMPT:
    case UIT_VERIFY: {
      std::string text = UI_get0_output_string(uis) != nullptr ? UI_get0_output_string(uis) : "PIN";
      while (!text.empty() && (text.back() == ':' || text.back() == ' ')) text.pop_back();
      auto pin = (*prompt)(text);
      if (!pin) return 0;
      return UI_set_result(ui, uis, pin->c_str()) == 0 ? 1 : 0;
    }
    default:
      return 1;
  }
}

struct UiMethod {
  UI_METHOD* method = UI_create_method("hwca PIN prompt");
  UiMethod() { UI_method_set_reader(method, ui_read); }
  ~UiMethod() { UI_destroy_method(method); }
};

}  // namespace

Error provider_error(ErrorKind fallback, const std::string& context, bool prefix_ours) {
  std::optional<Error> ours;
  std::string all;
  unsigned long code;
  const char* data = nullptr;
  int flags = 0;
  while ((code = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) != 0) {
    int reason = ERR_GET_REASON(code);
    bool has_text = (flags & ERR_TXT_STRING) != 0 && data != nullptr && *data != '\0';
    if (!ours && reason > kReasonKindBase && reason < kReasonKindBase + 16 && has_text) {
      ours = Error{static_cast<ErrorKind>(reason - kReasonKindBase), data};
    }
    const char* text = ERR_reason_error_string(code);
    if (!all.empty()) all += "; ";
    all += text != nullptr ? text : "error " + std::to_string(reason);
    if (has_text) all += std::string(" (") + data + ")";
  }
  if (ours) {
    if (prefix_ours) ours->message = context + ": " + ours->message;
    return *ours;
  }
  return Error{fallback, context + ": " + (all.empty() ? "no detail from OpenSSL" : all)};
}

Result<std::unique_ptr<CryptoContext>> CryptoContext::create(Scope scope) {
  std::unique_ptr<CryptoContext> ctx(new CryptoContext());
  if (scope == Scope::process_default) {
    static std::atomic<bool> taken{false};
    if (taken.exchange(true)) {
      return fail(ErrorKind::internal, "the default OpenSSL library context is already in use");
    }
  } else {
    ctx->libctx_ = OSSL_LIB_CTX_new();
    if (ctx->libctx_ == nullptr) {
      return fail(ErrorKind::internal,
                  "cannot create an OpenSSL library context: " + ossl::take_errors());
    }
  }
  if (OSSL_PROVIDER_add_builtin(ctx->libctx_, kProviderName, hwca_provider_init) != 1) {
    return fail(ErrorKind::internal, "cannot register the hwca provider: " + ossl::take_errors());
  }
  // The default provider first: OpenSSL offers TLS the NIST EC groups only when the
  // default provider answers the first fetch of "EC" (docs/design.md).
  ctx->default_ = OSSL_PROVIDER_load(ctx->libctx_, "default");
  ctx->hwca_ = OSSL_PROVIDER_load(ctx->libctx_, kProviderName);
  if (ctx->default_ == nullptr || ctx->hwca_ == nullptr) {
    return fail(ErrorKind::internal, "cannot load the OpenSSL providers: " + ossl::take_errors());
  }
  return ctx;
}

CryptoContext::~CryptoContext() {
  if (hwca_ != nullptr) OSSL_PROVIDER_unload(hwca_);
  if (default_ != nullptr) OSSL_PROVIDER_unload(default_);
  OSSL_LIB_CTX_free(libctx_);
}

Result<ossl::Ptr<EVP_PKEY>> CryptoContext::load_private_key(
    const std::string& uri, const tokens::OpenOptions& options) const {
  // The hwca commands' ways to give a PIN, for the provider's "none was given".
  static const std::string kPinHint =
      "--pin-source env:NAME|file:PATH, pin-source= in the URI, or a terminal";
  provider::StoreParams params = provider::to_store_params(options, kPinHint);

  UiMethod ui;
  PinCallback prompt = options.pin_prompt;
  ERR_clear_error();
  ossl::Ptr<OSSL_STORE_CTX> store(OSSL_STORE_open_ex(uri.c_str(), libctx_, "provider=hwca",
                                                     prompt ? ui.method : nullptr, &prompt,
                                                     params.data(), nullptr, nullptr));
  if (!store) return tl::unexpected(provider_error(ErrorKind::usage, "cannot open key " + uri));
  OSSL_STORE_expect(store.get(), OSSL_STORE_INFO_PKEY);
  while (OSSL_STORE_eof(store.get()) == 0) {
    ossl::Ptr<OSSL_STORE_INFO> info(OSSL_STORE_load(store.get()));
    if (!info) break;
    if (OSSL_STORE_INFO_get_type(info.get()) == OSSL_STORE_INFO_PKEY) {
      return ossl::Ptr<EVP_PKEY>(OSSL_STORE_INFO_get1_PKEY(info.get()));
    }
  }
  return tl::unexpected(provider_error(ErrorKind::device, "cannot load key " + uri));
}

}  // namespace hwca::ca
