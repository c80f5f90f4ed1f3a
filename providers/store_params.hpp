// The hwca provider's STORE parameters: tokens::OpenOptions as OSSL_PARAMs and back. The
// CA core writes them for OSSL_STORE_open_ex with to_store_params; the provider's STORE
// reads them with from_store_params. The names are the documented ones of
// providers/provider_init.h (pin-source, default-pin-source, pkcs11-module, tpm2-tcti,
// pin-hint), which the openssl command takes too. The PIN prompt does not travel here: it is
// OpenSSL's passphrase callback.
#pragma once

#include <openssl/core.h>

#include <array>
#include <string>

#include "tokens/open_options.hpp"

namespace hwca::provider {

// The parameters for `options` and `pin_hint` (how the caller's user gives a PIN, for the
// error when none was given). Empty values are not sent, so that the provider's defaults
// (its openssl.cnf section) stay. The array points into `options` and `pin_hint`, which
// must outlive it; it is read only.
using StoreParams = std::array<OSSL_PARAM, 6>;
StoreParams to_store_params(const tokens::OpenOptions& options, const std::string& pin_hint);
// Temporaries would leave the array pointing at freed text.
StoreParams to_store_params(tokens::OpenOptions&&, const std::string&) = delete;
StoreParams to_store_params(const tokens::OpenOptions&, std::string&&) = delete;

// Read the parameters to_store_params writes (any of them, from any caller) into `options`
// and `pin_hint`; a parameter absent leaves its field as it is. False on a parameter that
// is not a UTF-8 string.
bool from_store_params(const OSSL_PARAM params[], tokens::OpenOptions& options,
                       std::string& pin_hint);

// What the STORE accepts in set_ctx_params: the parameters above and OpenSSL's "expect".
const OSSL_PARAM* settable_store_params();

}  // namespace hwca::provider
