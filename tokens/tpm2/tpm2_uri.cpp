#include "tokens/tpm2/tpm2_uri.hpp"

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "common/text.hpp"
#include "common/uri.hpp"

namespace hwca::tokens::tpm2 {
namespace {

Result<TPM2_HANDLE> parse_handle(const std::string& value) {
  std::string_view digits = value;
  if (digits.starts_with("0x") || digits.starts_with("0X")) digits.remove_prefix(2);
  unsigned long parsed = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed, 16);
  if (digits.empty() || digits.size() > 8 || ec != std::errc() ||
      ptr != digits.data() + digits.size()) {
    return fail(ErrorKind::usage,
                "tpm2 URI attribute 'handle' must be a persistent handle in hex, such as "
                "0x81000010");
  }
  auto handle = static_cast<TPM2_HANDLE>(parsed);
  if (handle < kOwnerPersistentFirst || handle > kOwnerPersistentLast) {
    return fail(ErrorKind::usage, "handle " + handle_text(handle) +
                                      " is not an owner persistent handle (0x81000000 to "
                                      "0x817fffff)");
  }
  if (handle == 0x81000001) {
    return fail(ErrorKind::usage,
                "handle 0x81000001 is the storage root key's, not a signing key's");
  }
  if (handle >= 0x81010000 && handle <= 0x8101ffff) {
    return fail(ErrorKind::usage, "handle " + handle_text(handle) +
                                      " is in the endorsement key range (0x81010000 to "
                                      "0x8101ffff), not a signing key's");
  }
  return handle;
}

}  // namespace

std::string handle_text(TPM2_HANDLE handle) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", handle);
  return buf;
}

Result<std::string> absolute_key_path(const std::string& path) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  if (base.empty() || base == "." || base == "..") {
    return fail(ErrorKind::usage, "tpm2 URI attribute 'file' must name a file: " + path);
  }
  char resolved[PATH_MAX];
  if (::realpath(dir.c_str(), resolved) == nullptr) {
    int err = errno;
    return fail(err == ENOENT ? ErrorKind::not_found : ErrorKind::io,
                "cannot use folder " + dir + " for key file " + base + ": " + error_text(err));
  }
  std::string out = resolved;
  return (out == "/" ? out : out + "/") + base;
}

Result<std::string> absolute_key_uri(const std::string& text) {
  auto uri = parse_uri(text);
  if (!uri || uri->scheme != "tpm2") return text;
  for (auto& [name, value] : uri->path) {
    if (name != "file" || value.starts_with("/")) continue;
    auto path = absolute_key_path(value);
    if (!path) return tl::unexpected(path.error());
    value = *path;
  }
  return format_uri(*uri);
}

Result<Tpm2Uri> parse_tpm2_uri(std::string_view text) {
  auto uri = parse_uri(text);
  if (!uri) return tl::unexpected(uri.error());
  return tpm2_uri_of(*uri);
}

Result<Tpm2Uri> tpm2_uri_of(const Uri& uri) {
  if (uri.scheme != "tpm2") {
    return fail(ErrorKind::usage, "not a tpm2: URI (scheme '" + uri.scheme + "')");
  }
  Tpm2Uri out;
  for (const auto& [name, value] : uri.path) {
    if (name == "file") {
      if (value.empty()) return fail(ErrorKind::usage, "tpm2 URI attribute 'file' is empty");
      out.file = value;
    } else if (name == "handle") {
      auto handle = parse_handle(value);
      if (!handle) return tl::unexpected(handle.error());
      out.handle = *handle;
    } else if (name == "type") {
      if (value != "private" && value != "public") {
        return fail(ErrorKind::usage,
                    "tpm2 URI attribute 'type' must be private or public, not '" + value + "'");
      }
      out.type = value;
    } else if (name == "tcti") {
      return fail(ErrorKind::usage,
                  "a tpm2 URI does not name the TPM: give the TCTI with --tcti or HWCA_TCTI");
    } else if (!name.starts_with("x-")) {
      return fail(ErrorKind::usage, "unknown tpm2 URI attribute '" + name +
                                        "' (expected file=PATH or handle=0x81...)");
    }
  }
  for (const auto& [name, value] : uri.query) {
    if (name == "pin-source") {
      out.pin_source = value;
    } else if (name == "pin-value") {
      out.has_pin_value = true;
    } else if (name == "tcti") {
      return fail(ErrorKind::usage,
                  "a tpm2 URI does not name the TPM: give the TCTI with --tcti or HWCA_TCTI");
    } else if (!name.starts_with("x-")) {
      return fail(ErrorKind::usage, "unknown tpm2 URI query attribute '" + name + "'");
    }
  }
  if (out.file.has_value() == out.handle.has_value()) {
    return fail(ErrorKind::usage,
                "a tpm2 URI names its key with exactly one of file=PATH and handle=0x81...");
  }
  return out;
}

std::string format_tpm2_uri(const Tpm2Uri& uri) {
  Uri out{"tpm2", {}, {}};
  if (uri.file) out.path.emplace_back("file", *uri.file);
  if (uri.handle) out.path.emplace_back("handle", handle_text(*uri.handle));
  return format_uri(out);
}

}  // namespace hwca::tokens::tpm2
