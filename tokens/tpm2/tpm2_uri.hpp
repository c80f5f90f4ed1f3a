// tpm2: key URIs, on the shared parser in common/uri.hpp:
//   tpm2:file=PATH[;type=private|public][?pin-source=env:NAME|file:PATH]
//   tpm2:handle=0x81000010[;type=...][?pin-source=...]
// The TCTI (which TPM) is never part of a URI: it comes from --tcti or HWCA_TCTI.
#pragma once

#include <tss2/tss2_tpm2_types.h>

#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "common/uri.hpp"

namespace hwca::tokens::tpm2 {

// Persistent handles a key may be made at or used from: the owner range, less the SRK's
// (0x81000001) and the endorsement range 0x81010000-0x8101ffff (EKs), which hwca never
// writes and never signs with.
inline constexpr TPM2_HANDLE kOwnerPersistentFirst = 0x81000000;
inline constexpr TPM2_HANDLE kOwnerPersistentLast = 0x817fffff;

struct Tpm2Uri {
  std::optional<std::string> file;    // a "TSS2 PRIVATE KEY" file
  std::optional<TPM2_HANDLE> handle;  // a persistent key
  std::optional<std::string> type;    // "private" or "public"
  std::optional<std::string> pin_source;
  bool has_pin_value = false;  // pin-value= is refused; the value is never kept
};

// Parse and check: exactly one of file= and handle=; a handle in hex, inside the owner
// range and outside the SRK and EK handles; no other attribute but x-... ones.
Result<Tpm2Uri> parse_tpm2_uri(std::string_view text);
// The same checks on a URI parsed already (common/uri.hpp): what the key store reads.
Result<Tpm2Uri> tpm2_uri_of(const Uri& uri);

// "tpm2:file=/abs/path" or "tpm2:handle=0x81000010" (no type, no pin-source).
std::string format_tpm2_uri(const Tpm2Uri& uri);

// The absolute form of a key file path whose folder exists ("k.pem" -> "/cwd/k.pem").
Result<std::string> absolute_key_path(const std::string& path);

// `text` with a relative file= made absolute, everything else (pin-source=, type=) kept:
// the form a CA's config records, valid from any folder. Other URIs come back as they are.
Result<std::string> absolute_key_uri(const std::string& text);

// "0x81000010".
std::string handle_text(TPM2_HANDLE handle);

}  // namespace hwca::tokens::tpm2
