// Where a PIN or key password comes from: "env:NAME", "file:PATH", or a terminal prompt.
// A PIN never comes from argv, and no function here logs or echoes it.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/secure_string.hpp"

namespace hwca {

// Read a PIN from a source spec: "env:NAME" or "file:PATH". A PIN file must be a regular
// file not readable or writable by group or others; one trailing newline is removed.
Result<SecureString> read_pin_source(std::string_view spec);

// A secret from a file, as a PIN file is read: a regular file not readable or writable by
// group or others, one trailing newline removed, not empty. `what` names it in errors
// ("PIN file", "bootstrap token file").
Result<SecureString> read_secret_file(const std::string& path, const std::string& what);

// Check a spec's syntax without reading it (for argument validation).
Status check_pin_source_syntax(std::string_view spec);

// Prompt on the controlling terminal without echo. Fails (ErrorKind::auth) when there is no
// terminal, with a message telling how to supply the PIN instead.
Result<SecureString> prompt_pin(const std::string& prompt);

// A callback that supplies a PIN for a prompt such as "PIN for token 'ca'".
using PinCallback = std::function<Result<SecureString>(const std::string& prompt)>;

// Every place a PIN or key password may come from.
struct PinSources {
  // Source specs (env:NAME, file:PATH) in the order they are tried; empty ones are
  // skipped. A token PIN: --pin-source, the URI's pin-source, $HWCA_PIN_SOURCE.
  std::vector<std::string> specs;
  bool uri_has_pin_value = false;
  PinCallback prompt;  // terminal or OpenSSL passphrase callback; may be empty

  bool any() const;  // a spec or a prompt is given
};

// The secret for `what` ("PIN for token 'ca'", "password for key /etc/k.pem") from the
// first spec given, else the prompt. A URI that carries pin-value is refused (it may end up
// in argv or logs); no source at all is an auth error that says how to give one.
Result<SecureString> obtain_pin(const PinSources& sources, const std::string& what);

}  // namespace hwca
