#include "ca/san.hpp"

#include <arpa/inet.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>

#include "common/text.hpp"

namespace hwca::ca {
namespace {

constexpr size_t kMaxDns = 253;
constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxEmailLocal = 64;
constexpr size_t kMaxUri = 2048;

bool ldh_label(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabel) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  for (char c : label) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

// A host name of LDH labels (RFC 1123, A-labels for IDNs); optionally one leading "*".
Status check_dns(const std::string& name, bool wildcard) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorKind::usage, "DNS name '" + printable(name) + "' " + why);
  };
  if (name.empty()) return bad("is empty");
  if (name.size() > kMaxDns) return bad("is longer than 253 characters");
  if (name.back() == '.') return bad("ends with a dot");
  size_t pos = 0;
  size_t labels = 0;
  bool starred = false;
  while (pos <= name.size()) {
    size_t end = name.find('.', pos);
    if (end == std::string::npos) end = name.size();
    std::string_view label(name.data() + pos, end - pos);
    if (labels == 0 && label == "*") {
      if (!wildcard) return bad("is a wildcard, which this profile does not allow");
      starred = true;
    } else if (!ldh_label(label)) {
      return bad("has an invalid label (letters, digits and '-', 1-63 characters)");
    }
    ++labels;
    pos = end + 1;
  }
  if (starred && labels < 3) return bad("is a wildcard over a top-level name");
  return {};
}

Status check_email(const std::string& address) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorKind::usage, "email address '" + printable(address) + "' " + why);
  };
  size_t at = address.find('@');
  if (at == std::string::npos || address.find('@', at + 1) != std::string::npos) {
    return bad("must hold exactly one '@'");
  }
  std::string local = address.substr(0, at);
  if (local.empty() || local.size() > kMaxEmailLocal) return bad("has a bad local part");
  if (local.front() == '.' || local.back() == '.') return bad("has a bad local part");
  static const char* specials = ".!#$%&'*+/=?^_`{|}~-";
  for (char c : local) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::strchr(specials, c) != nullptr;
    if (!ok || c == '\0') return bad("has a character not allowed in a local part");
  }
  if (auto ok = check_dns(address.substr(at + 1), false); !ok) return bad("has a bad domain");
  return {};
}

Status check_uri(const std::string& uri) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorKind::usage, "URI '" + printable(uri) + "' " + why);
  };
  if (uri.size() > kMaxUri) return bad("is longer than 2048 characters");
  size_t colon = uri.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == uri.size()) {
    return bad("is not scheme:rest");
  }
  for (size_t i = 0; i < colon; ++i) {
    char c = uri[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
    if (!ok) return bad("has an invalid scheme");
  }
  for (char c : uri) {
    if (c <= 0x20 || c >= 0x7f) return bad("has a space, control or non-ASCII character");
  }
  return {};
}

// The text of an IA5String, refused if it holds a NUL or a non-ASCII byte.
Result<std::string> ia5_text(const ASN1_STRING* s, const char* what) {
  const auto* data = ASN1_STRING_get0_data(s);
  int len = ASN1_STRING_length(s);
  std::string out(reinterpret_cast<const char*>(data), static_cast<size_t>(len));
  for (unsigned char c : out) {
    if (c == 0 || c >= 0x80) {
      return fail(ErrorKind::usage,
                  std::string(what) + " '" + printable(out) + "' holds a NUL or non-ASCII byte");
    }
  }
  return out;
}

Result<San> checked(SanType type, std::string value, const SanRules& rules) {
  Status ok;
  switch (type) {
    case SanType::dns:
      ok = check_dns(value, rules.allow_wildcard);
      break;
    case SanType::email:
      ok = check_email(value);
      break;
    case SanType::uri:
      ok = check_uri(value);
      break;
    case SanType::ip: {
      auto canonical = canonical_ip(value);
      if (!canonical) {
        return fail(ErrorKind::usage, "IP address '" + printable(value) + "' is not valid");
      }
      value = std::move(*canonical);
      break;
    }
  }
  if (!ok) return tl::unexpected(ok.error());
  return San{type, std::move(value)};
}

}  // namespace

std::string San::text() const {
  switch (type) {
    case SanType::dns:
      return "DNS:" + value;
    case SanType::ip:
      return "IP:" + value;
    case SanType::email:
      return "email:" + value;
    case SanType::uri:
      return "URI:" + value;
  }
  return value;
}

std::optional<std::string> canonical_ip(const std::string& text) {
  unsigned char buf[16];
  char out[INET6_ADDRSTRLEN];
  const int family = text.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (inet_pton(family, text.c_str(), buf) != 1 ||
      inet_ntop(family, buf, out, sizeof out) == nullptr) {
    return std::nullopt;
  }
  return std::string(out);
}

std::vector<std::string> certificate_sans(const X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    auto san = san_from_general_name(sk_GENERAL_NAME_value(names, i), {});
    out.push_back(san ? san->text() : "?");
  }
  GENERAL_NAMES_free(names);
  return out;
}

Result<std::vector<std::string>> canonical_ips(const std::vector<std::string>& ips,
                                               const std::string& what) {
  std::vector<std::string> out;
  for (const auto& ip : ips) {
    auto canonical = canonical_ip(ip);
    if (!canonical) {
      return fail(ErrorKind::usage, what + " '" + printable(ip) +
                                        "' is not an IPv4 or IPv6 address (e.g. 10.0.0.5, "
                                        "fd00::5; no prefix length, no zone)");
    }
    if (std::find(out.begin(), out.end(), *canonical) == out.end()) out.push_back(*canonical);
  }
  return out;
}

const char* san_type_name(SanType type) {
  switch (type) {
    case SanType::dns:
      return "dns";
    case SanType::ip:
      return "ip";
    case SanType::email:
      return "email";
    case SanType::uri:
      return "uri";
  }
  return "?";
}

Result<SanType> parse_san_type(const std::string& name) {
  for (SanType t : {SanType::dns, SanType::ip, SanType::email, SanType::uri}) {
    if (name == san_type_name(t)) return t;
  }
  return fail(ErrorKind::usage,
              "unknown SAN type '" + printable(name) + "' (dns, ip, email or uri)");
}

Result<San> san_from_general_name(const GENERAL_NAME* name, const SanRules& rules) {
  int type = 0;
  auto* value = static_cast<const ASN1_STRING*>(GENERAL_NAME_get0_value(name, &type));
  switch (type) {
    case GEN_DNS: {
      auto text = ia5_text(value, "DNS name");
      if (!text) return tl::unexpected(text.error());
      return checked(SanType::dns, *text, rules);
    }
    case GEN_EMAIL: {
      auto text = ia5_text(value, "email address");
      if (!text) return tl::unexpected(text.error());
      return checked(SanType::email, *text, rules);
    }
    case GEN_URI: {
      auto text = ia5_text(value, "URI");
      if (!text) return tl::unexpected(text.error());
      return checked(SanType::uri, *text, rules);
    }
    case GEN_IPADD: {
      int len = ASN1_STRING_length(value);
      if (len != 4 && len != 16) {
        return fail(ErrorKind::usage,
                    "an IP address SAN has " + std::to_string(len) + " octets (4 or 16 expected)");
      }
      char text[INET6_ADDRSTRLEN];
      inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(value), text, sizeof text);
      return San{SanType::ip, text};
    }
    case GEN_OTHERNAME:
      return fail(ErrorKind::usage, "SAN type otherName is not supported");
    case GEN_DIRNAME:
      return fail(ErrorKind::usage, "SAN type directoryName is not supported");
    case GEN_RID:
      return fail(ErrorKind::usage, "SAN type registeredID is not supported");
    default:
      return fail(ErrorKind::usage, "SAN type " + std::to_string(type) + " is not supported");
  }
}

Result<San> parse_san(const std::string& text, const SanRules& rules) {
  size_t colon = text.find(':');
  std::string kind = colon == std::string::npos ? "" : text.substr(0, colon);
  std::string value = colon == std::string::npos ? "" : text.substr(colon + 1);
  if (kind == "DNS") return checked(SanType::dns, value, rules);
  if (kind == "IP") return checked(SanType::ip, value, rules);
  if (kind == "email") return checked(SanType::email, value, rules);
  if (kind == "URI") return checked(SanType::uri, value, rules);
  return fail(ErrorKind::usage,
              "SAN '" + printable(text) + "' must start with DNS:, IP:, email: or URI:");
}

Result<GENERAL_NAMES*> to_general_names(const std::vector<San>& sans) {
  GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
  if (names == nullptr) return fail(ErrorKind::internal, "out of memory");
  for (const San& san : sans) {
    GENERAL_NAME* gen = nullptr;
    if (san.type == SanType::ip) {
      ASN1_OCTET_STRING* ip = a2i_IPADDRESS(san.value.c_str());
      gen = ip == nullptr ? nullptr : GENERAL_NAME_new();
      if (gen != nullptr) {
        GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
      } else {
        ASN1_OCTET_STRING_free(ip);
      }
    } else {
      int type = san.type == SanType::dns     ? GEN_DNS
                 : san.type == SanType::email ? GEN_EMAIL
                                              : GEN_URI;
      ASN1_IA5STRING* s = ASN1_IA5STRING_new();
      if (s != nullptr &&
          ASN1_STRING_set(s, san.value.data(), static_cast<int>(san.value.size())) == 1) {
        gen = GENERAL_NAME_new();
      }
      if (gen != nullptr) {
        GENERAL_NAME_set0_value(gen, type, s);
      } else {
        ASN1_IA5STRING_free(s);
      }
    }
    if (gen == nullptr || sk_GENERAL_NAME_push(names, gen) <= 0) {
      GENERAL_NAME_free(gen);
      GENERAL_NAMES_free(names);
      ERR_clear_error();
      return fail(ErrorKind::internal, "cannot encode SAN " + san.text());
    }
  }
  return names;
}

}  // namespace hwca::ca
