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

// Where a failure came from, when the kind alone does not say: the issuance database (set
// by its store, whatever the kind: a damaged file may read as "not a database", a usage
// error) or the audit log (set by AuditLog). Exit codes follow the kind only.
enum class ErrorSource { other, database, audit_log };

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;  // one line, names the cause; never contains a PIN or key material
  ErrorSource source = ErrorSource::other;
};

// A failure of what the CA needs to issue, not of the request: the token or TPM of its key
// (device, or auth: its PIN or login), the issuance database, the audit log, or the disk.
// A server answers these "unavailable, retry later".
inline bool is_outage(const Error& e) {
  return e.kind == ErrorKind::device || e.kind == ErrorKind::auth || e.kind == ErrorKind::io ||
         e.source != ErrorSource::other;
}

template <typename T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return tl::unexpected<Error>(Error{kind, std::move(message)});
}

// Prefix an error's message with context ("token 'ca': ..."), keeping its kind and source.
inline tl::unexpected<Error> wrap(const Error& e, const std::string& context) {
  return tl::unexpected<Error>(Error{e.kind, context + ": " + e.message, e.source});
}

}  // namespace hwca
