#include "ca/profile_yaml.hpp"

#include <algorithm>
#include <set>

#include "ca/distribution_urls.hpp"
#include "ca/home.hpp"
#include "common/text.hpp"

namespace hwca::ca {
namespace {

constexpr int kKeyCertSign = 5;

Result<std::vector<std::string>> strings(const YAML::Node& node, const std::string& where) {
  if (!node.IsSequence()) return fail(ErrorKind::usage, where + " must be a list");
  std::vector<std::string> out;
  for (const auto& item : node) {
    if (!item.IsScalar()) return fail(ErrorKind::usage, where + " must hold strings");
    out.push_back(item.as<std::string>());
  }
  return out;
}

Result<bool> boolean(const YAML::Node& node, const std::string& where) {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
    return fail(ErrorKind::usage, where + " must be true or false");
  }
  return value;
}

Result<int> integer(const YAML::Node& node, const std::string& where, int low, int high) {
  int value = 0;
  if (!node.IsScalar() || !YAML::convert<int>::decode(node, value) || value < low || value > high) {
    return fail(ErrorKind::usage, where + " must be a whole number from " + std::to_string(low) +
                                      " to " + std::to_string(high));
  }
  return value;
}

#define HWCA_TRY(var, expr) \
  auto var = (expr);        \
  if (!var) return tl::unexpected(var.error())

Status parse_subject(const YAML::Node& node, const std::string& where, Profile& p) {
  if (!node.IsMap()) return fail(ErrorKind::usage, where + " must be a mapping");
  for (const auto& item : node) {
    std::string key = item.first.as<std::string>();
    std::string at = where + "." + key;
    if (key == "attributes") {
      HWCA_TRY(names, strings(item.second, at));
      p.subject_attributes.clear();
      for (const auto& n : *names) {
        int nid = OBJ_txt2nid(n.c_str());
        if (nid == NID_undef) {
          return fail(ErrorKind::usage, at + ": unknown attribute '" + printable(n) + "'");
        }
        p.subject_attributes.push_back(nid);
      }
    } else if (key == "requireCommonName") {
      HWCA_TRY(v, boolean(item.second, at));
      p.require_common_name = *v;
    } else {
      return fail(ErrorKind::usage, where + ": unknown field '" + printable(key) + "'");
    }
  }
  return {};
}

Status parse_keys(const YAML::Node& node, const std::string& where, Profile& p) {
  if (!node.IsMap()) return fail(ErrorKind::usage, where + " must be a mapping");
  for (const auto& item : node) {
    std::string key = item.first.as<std::string>();
    std::string at = where + "." + key;
    if (key == "rsa") {
      HWCA_TRY(v, boolean(item.second, at));
      p.allow_rsa = *v;
    } else if (key == "rsaMinBits") {
      HWCA_TRY(v, integer(item.second, at, 2048, kMaxRsaBits));
      p.rsa_min_bits = *v;
    } else if (key == "ecCurves") {
      HWCA_TRY(curves, strings(item.second, at));
      p.ec_curves.clear();
      for (const auto& c : *curves) {
        if (c != "P-256" && c != "P-384") {
          return fail(ErrorKind::usage,
                      at + ": curve '" + printable(c) + "' is not supported (P-256 or P-384)");
        }
        p.ec_curves.insert(c);
      }
    } else {
      return fail(ErrorKind::usage, where + ": unknown field '" + printable(key) + "'");
    }
  }
  return {};
}

Status parse_field(const std::string& key, const YAML::Node& value, const std::string& where,
                   Profile& p) {
  const std::string at = where + ": " + key;
  if (key == "description") {
    if (!value.IsScalar()) return fail(ErrorKind::usage, at + " must be a string");
    p.description = value.as<std::string>();
  } else if (key == "ca") {
    HWCA_TRY(v, boolean(value, at));
    p.ca = *v;
  } else if (key == "pathLen") {
    HWCA_TRY(v, integer(value, at, 0, 16));
    p.path_len = *v;
  } else if (key == "keyUsage") {
    HWCA_TRY(names, strings(value, at));
    p.key_usage.clear();
    for (const auto& n : *names) {
      auto bit = key_usage_bit(n);
      if (!bit) return wrap(bit.error(), at);
      p.key_usage.push_back(*bit);
    }
  } else if (key == "extKeyUsage") {
    HWCA_TRY(names, strings(value, at));
    p.ext_key_usage.clear();
    for (const auto& n : *names) {
      auto nid = ext_key_usage_nid(n);
      if (!nid) return wrap(nid.error(), at);
      p.ext_key_usage.push_back(*nid);
    }
  } else if (key == "sans") {
    HWCA_TRY(names, strings(value, at));
    p.san_types.clear();
    for (const auto& n : *names) {
      auto t = parse_san_type(n);
      if (!t) return wrap(t.error(), at);
      p.san_types.insert(*t);
    }
  } else if (key == "requireSan") {
    HWCA_TRY(v, boolean(value, at));
    p.require_san = *v;
  } else if (key == "allowWildcard") {
    HWCA_TRY(v, boolean(value, at));
    p.allow_wildcard = *v;
  } else if (key == "maxSans") {
    HWCA_TRY(v, integer(value, at, 0, kMaxSansLimit));
    p.max_sans = *v;
  } else if (key == "subject") {
    return parse_subject(value, at, p);
  } else if (key == "days") {
    HWCA_TRY(v, integer(value, at, 1, kMaxDaysLimit));
    p.default_days = *v;
  } else if (key == "maxDays") {
    HWCA_TRY(v, integer(value, at, 1, kMaxDaysLimit));
    p.max_days = *v;
  } else if (key == "keys") {
    return parse_keys(value, at, p);
  } else if (key == "crlDistributionPoints") {
    HWCA_TRY(urls, parse_url_list(value, at));
    p.crl_urls = *urls;
  } else if (key == "issuingCertificateURLs") {
    HWCA_TRY(urls, parse_url_list(value, at));
    p.ca_issuers_urls = *urls;
  } else if (key == "ocspServers") {
    return fail(ErrorKind::usage, at + ": hwca runs no OCSP responder, so it names none "
                                       "(publish CRLs: crlDistributionPoints)");
  } else {
    return fail(ErrorKind::usage, where + ": unknown field '" + printable(key) + "'");
  }
  return {};
}

Status check_profile(const Profile& p, const std::string& where) {
  bool cert_sign = std::count(p.key_usage.begin(), p.key_usage.end(), kKeyCertSign) > 0;
  if (p.ca && !cert_sign) return fail(ErrorKind::usage, where + ": a CA profile needs keyCertSign");
  if (!p.ca && cert_sign) return fail(ErrorKind::usage, where + ": keyCertSign needs ca: true");
  if (!p.ca && p.path_len) return fail(ErrorKind::usage, where + ": pathLen needs ca: true");
  if (p.default_days > p.max_days) {
    return fail(ErrorKind::usage, where + ": days is more than maxDays");
  }
  if (p.require_san && (p.san_types.empty() || p.max_sans == 0)) {
    return fail(ErrorKind::usage, where + ": requireSan needs sans and maxSans > 0");
  }
  if (p.require_common_name &&
      std::count(p.subject_attributes.begin(), p.subject_attributes.end(), NID_commonName) == 0) {
    return fail(ErrorKind::usage, where + ": requireCommonName needs CN among the attributes");
  }
  if (!p.allow_rsa && p.ec_curves.empty()) {
    return fail(ErrorKind::usage, where + ": the profile accepts no key at all");
  }
  return {};
}

}  // namespace

Status check_yaml_text(std::string_view text, const std::string& source) {
  auto at_line = [&](size_t at, const std::string& what) {
    auto line = std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n') + 1;
    return fail(ErrorKind::usage, source + " line " + std::to_string(line) + ": " + what);
  };
  const auto* b = reinterpret_cast<const unsigned char*>(text.data());
  if (size_t at = invalid_utf8_at(text); at != std::string_view::npos) {
    return at_line(at, "not UTF-8 text (a byte " + hex_text(b + at, 1) + ")");
  }
  for (size_t i = 0; i < text.size(); ++i) {  // UTF-8 now: a byte pattern is a character
    unsigned char c = b[i];
    size_t len = 0;
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      len = 1;
    } else if (c == 0xc2 && b[i + 1] >= 0x80 && b[i + 1] <= 0x9f && b[i + 1] != 0x85) {
      len = 2;  // C1 controls
    } else if (c == 0xef && b[i + 1] == 0xbf && (b[i + 2] == 0xbe || b[i + 2] == 0xbf)) {
      len = 3;  // U+FFFE, U+FFFF
    }
    if (len > 0) {
      return at_line(i, "a character YAML does not allow (" + hex_text(b + i, len) + ")");
    }
    if (c == '\r' && (i + 1 == text.size() || b[i + 1] != '\n')) {
      return at_line(i, "a carriage return without a line feed (lines end in LF or CR LF)");
    }
  }
  return {};
}

Status unique_keys(const YAML::Node& map, const std::string& where) {
  std::set<std::string> seen;
  for (const auto& item : map) {
    const std::string key = item.first.IsScalar() ? item.first.as<std::string>() : "";
    if (!seen.insert(key).second) {
      return fail(ErrorKind::usage, where + ": '" + printable(key) + "' appears twice");
    }
  }
  return {};
}

Result<std::map<std::string, Profile>> parse_profiles(const YAML::Node& node,
                                                      const std::string& source) {
  std::map<std::string, Profile> out;
  if (node.IsNull()) return out;
  if (!node.IsMap()) return fail(ErrorKind::usage, source + ": profiles must be a mapping");
  if (auto ok = unique_keys(node, source + ": profiles"); !ok) return tl::unexpected(ok.error());
  for (const auto& entry : node) {
    std::string name = entry.first.as<std::string>();
    std::string where = source + ": profile '" + printable(name) + "'";
    if (!valid_ca_name(name)) {  // the same rule as CA names
      return fail(ErrorKind::usage, where + ": a profile name is 1-64 of a-z, 0-9 and '-'");
    }
    if (builtin_profiles().count(name) != 0) {
      return fail(ErrorKind::usage,
                  where + " is built in; choose another name (base: " + name + " starts from it)");
    }
    if (!entry.second.IsMap()) return fail(ErrorKind::usage, where + " must be a mapping");
    if (auto ok = unique_keys(entry.second, where); !ok) return tl::unexpected(ok.error());
    Profile p = plain_profile();
    if (const YAML::Node base = entry.second["base"]) {
      auto it = base.IsScalar() ? builtin_profiles().find(base.as<std::string>())
                                : builtin_profiles().end();
      if (it == builtin_profiles().end()) {
        return fail(ErrorKind::usage, where + ": base must name a built-in profile");
      }
      p = it->second;
    }
    p.name = name;
    for (const auto& item : entry.second) {
      std::string key = item.first.as<std::string>();
      if (key == "base") continue;
      if (auto ok = parse_field(key, item.second, where, p); !ok) {
        return tl::unexpected(ok.error());
      }
    }
    // A CA base turned into a leaf drops the base's path length; a pathLen written
    // without ca: true is refused by check_profile.
    if (!p.ca && !entry.second["pathLen"]) p.path_len.reset();
    if (auto ok = check_profile(p, where); !ok) return tl::unexpected(ok.error());
    out[name] = p;
  }
  return out;
}

}  // namespace hwca::ca
