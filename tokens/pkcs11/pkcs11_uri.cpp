#include "tokens/pkcs11/pkcs11_uri.hpp"

#include <charconv>

namespace hwca::tokens::pkcs11 {
namespace {

Result<unsigned long> parse_slot_id(const std::string& value) {
  unsigned long out = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc() || ptr != value.data() + value.size() || value.empty()) {
    return fail(ErrorKind::usage, "URI attribute 'slot-id' must be a decimal number");
  }
  return out;
}

}  // namespace

Result<Pkcs11Uri> parse_pkcs11_uri(std::string_view text) {
  auto uri = parse_uri(text);
  if (!uri) return tl::unexpected(uri.error());
  return pkcs11_uri_of(*uri);
}

Result<Pkcs11Uri> pkcs11_uri_of(const Uri& uri) {
  if (uri.scheme != "pkcs11") {
    return fail(ErrorKind::usage, "not a pkcs11: URI (scheme '" + uri.scheme + "')");
  }
  Pkcs11Uri out;
  for (const auto& [name, value] : uri.path) {
    if (name == "token")
      out.token = value;
    else if (name == "manufacturer")
      out.manufacturer = value;
    else if (name == "serial")
      out.serial = value;
    else if (name == "model")
      out.model = value;
    else if (name == "slot-description")
      out.slot_description = value;
    else if (name == "slot-manufacturer")
      out.slot_manufacturer = value;
    else if (name == "library-manufacturer")
      out.library_manufacturer = value;
    else if (name == "library-description")
      out.library_description = value;
    else if (name == "library-version")
      out.library_version = value;
    else if (name == "object")
      out.object = value;
    else if (name == "id")
      out.id = value;
    else if (name == "slot-id") {
      auto slot = parse_slot_id(value);
      if (!slot) return tl::unexpected(slot.error());
      out.slot_id = *slot;
    } else if (name == "type") {
      if (value != "public" && value != "private" && value != "cert" && value != "secret-key" &&
          value != "data") {
        return fail(ErrorKind::usage,
                    "URI attribute 'type' must be public, private, cert, "
                    "secret-key or data, not '" +
                        value + "'");
      }
      out.type = value;
    } else if (!name.starts_with("x-")) {
      return fail(ErrorKind::usage, "unknown pkcs11 URI attribute '" + name + "'");
    }
  }
  for (const auto& [name, value] : uri.query) {
    if (name == "module-path")
      out.module_path = value;
    else if (name == "module-name")
      out.module_name = value;
    else if (name == "pin-source")
      out.pin_source = value;
    else if (name == "pin-value")
      out.has_pin_value = true;
    else if (!name.starts_with("x-")) {
      return fail(ErrorKind::usage, "unknown pkcs11 URI query attribute '" + name + "'");
    }
  }
  return out;
}

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::string token_uri(const std::string& label, const std::string& manufacturer,
                      const std::string& serial, const std::string& model) {
  Uri uri{"pkcs11",
          {{"model", model}, {"manufacturer", manufacturer}, {"serial", serial}, {"token", label}},
          {}};
  return format_uri(uri);
}

std::string key_uri(const std::string& token, const std::string& label, const std::string& id) {
  std::string out = token;
  if (!label.empty()) out += ";object=" + percent_encode(label);
  if (!id.empty()) {
    static const char* digits = "0123456789ABCDEF";
    out += ";id=";
    for (unsigned char c : id) {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

}  // namespace hwca::tokens::pkcs11
