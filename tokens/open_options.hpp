// How a caller reaches the keys of a store: which PKCS#11 module or TPM, and where a PIN
// comes from. One type for every layer: the hwca command fills it (cli::Context), the CA
// core hands it to the provider as STORE parameters (providers/store_params.hpp), and the
// provider's STORE opens the token with it (tokens::open_store).
#pragma once

#include <string>

#include "common/pin_source.hpp"

namespace hwca::tokens {

struct OpenOptions {
  std::string module;              // PKCS#11 module (--module); empty: the URI's module-path=,
                                   // HWCA_PKCS11_MODULE, then p11-kit
  std::string tcti;                // TPM (--tcti); empty: $HWCA_TCTI, then /dev/tpmrm0
  std::string pin_source;          // --pin-source env:NAME|file:PATH: before the URI's
  std::string default_pin_source;  // $HWCA_PIN_SOURCE: after the URI's pin-source
  PinCallback pin_prompt;          // asked when no source gives the PIN; may be empty
};

}  // namespace hwca::tokens
