// Result<T>: the error type used across hwca instead of exceptions.
#pragma once

#include <string>
#include <tl/expected.hpp>
#include <utility>

namespace hwca {

// What kind of failure this is; the CLI maps each kind to an exit code (docs/cli.md).
enum class ErrorKind {
  usage = 2,      // bad arguments or malformed input (URI, file contents)
  not_found = 3,  // module, token, key or file missing
  auth = 4,       // PIN missing, wrong, locked or not usable
  device = 5,     // the token/TPM failed, timed out or lacks a mechanism
  conflict = 6,   // ambiguous match or object already exists
  io = 7,         // local file could not be read or written
  internal = 1,   // a bug or an unexpected library failure
};

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;  // one line, names the cause; never contains a PIN or key material
};

template <typename T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return tl::unexpected<Error>(Error{kind, std::move(message)});
}

// Prefix an error's message with context ("token 'ca': ..."), keeping its kind.
inline tl::unexpected<Error> wrap(const Error& e, const std::string& context) {
  return tl::unexpected<Error>(Error{e.kind, context + ": " + e.message});
}

}  // namespace hwca
