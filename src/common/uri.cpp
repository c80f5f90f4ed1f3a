#include "common/uri.hpp"

#include <algorithm>
#include <cctype>

namespace hwca {
namespace {

bool is_unreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

// Characters RFC 7512 allows unencoded in a path value (pk11-pchar) besides unreserved.
bool is_path_char(unsigned char c) {
  return is_unreserved(c) ||
         std::string_view(":[]@!$'()*+,=&").find(static_cast<char>(c)) != std::string_view::npos;
}

// ... and in a query value (pk11-qchar).
bool is_query_char(unsigned char c) {
  return is_unreserved(c) ||
         std::string_view(":[]@!$'()*+,=/?|").find(static_cast<char>(c)) != std::string_view::npos;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// tpm2: path values are file paths; RFC 7512 would have every '/' percent-encoded.
bool slash_in_path(std::string_view scheme) { return scheme == "tpm2"; }

bool is_attr_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '_';
  });
}

Result<std::string> decode(std::string_view raw, std::string_view name, bool query, bool slash) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c == '%') {
      int hi = i + 2 < raw.size() ? hex_value(raw[i + 1]) : -1;
      int lo = i + 2 < raw.size() ? hex_value(raw[i + 2]) : -1;
      if (i + 2 >= raw.size() || hi < 0 || lo < 0) {
        return fail(ErrorKind::usage,
                    "bad percent-encoding in URI attribute '" + std::string(name) + "'");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (query ? is_query_char(c) : (is_path_char(c) || (slash && c == '/'))) {
      out.push_back(static_cast<char>(c));
    } else {
      std::string shown =
          std::isprint(c) != 0 ? std::string(1, static_cast<char>(c)) : "byte " + std::to_string(c);
      return fail(ErrorKind::usage, "URI attribute '" + std::string(name) +
                                        "' holds a character that must be percent-encoded: '" +
                                        shown + "'");
    }
  }
  return out;
}

Status parse_attrs(std::string_view part, char sep, bool query, bool slash,
                   std::vector<std::pair<std::string, std::string>>& out) {
  if (part.empty()) return {};
  size_t start = 0;
  while (start <= part.size()) {
    size_t end = part.find(sep, start);
    if (end == std::string_view::npos) end = part.size();
    std::string_view item = part.substr(start, end - start);
    if (item.empty()) {
      return fail(ErrorKind::usage, std::string("empty attribute in URI ") +
                                        (query ? "query" : "path") + " (stray '" + sep + "')");
    }
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return fail(ErrorKind::usage,
                  "URI attribute '" + std::string(item.substr(0, 40)) + "' has no '=value'");
    }
    std::string name(item.substr(0, eq));
    if (!is_attr_name(name)) {
      return fail(ErrorKind::usage, "bad URI attribute name '" + name + "'");
    }
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& [seen, _] : out) {
      if (seen == name) return fail(ErrorKind::usage, "URI attribute '" + name + "' appears twice");
    }
    auto value = decode(item.substr(eq + 1), name, query, slash);
    if (!value) return tl::unexpected(value.error());
    out.emplace_back(std::move(name), std::move(*value));
    start = end + 1;
  }
  return {};
}

std::optional<std::string> find(const std::vector<std::pair<std::string, std::string>>& attrs,
                                std::string_view name) {
  for (const auto& [k, v] : attrs) {
    if (k == name) return v;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> Uri::path_attr(std::string_view name) const { return find(path, name); }
std::optional<std::string> Uri::query_attr(std::string_view name) const {
  return find(query, name);
}

std::string uri_scheme(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return {};
  std::string scheme(text.substr(0, colon));
  for (char& c : scheme) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '+' && c != '-' && c != '.') {
      return {};
    }
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return scheme;
}

Result<Uri> parse_uri(std::string_view text) {
  Uri uri;
  uri.scheme = uri_scheme(text);
  if (uri.scheme.empty()) {
    return fail(ErrorKind::usage,
                "not a key URI (expected scheme:attributes, e.g. "
                "pkcs11:token=ca;object=root)");
  }
  std::string_view rest = text.substr(uri.scheme.size() + 1);
  size_t q = rest.find('?');
  std::string_view path = rest.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
  if (q != std::string_view::npos && query.empty()) {
    return fail(ErrorKind::usage, "URI has an empty query after '?'");
  }
  if (auto ok = parse_attrs(path, ';', false, slash_in_path(uri.scheme), uri.path); !ok) {
    return tl::unexpected(ok.error());
  }
  if (auto ok = parse_attrs(query, '&', true, false, uri.query); !ok) {
    return tl::unexpected(ok.error());
  }
  return uri;
}

std::string percent_encode(std::string_view value, bool query, bool slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    bool plain =
        query
            ? (is_unreserved(c) || std::string_view(":[]@!$'()*+,/|").find(static_cast<char>(c)) !=
                                       std::string_view::npos)
            : (is_unreserved(c) || std::string_view(":[]@!$'()*+,").find(static_cast<char>(c)) !=
                                       std::string_view::npos);
    if (plain || (slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string format_uri(const Uri& uri) {
  std::string out = uri.scheme + ":";
  for (size_t i = 0; i < uri.path.size(); ++i) {
    if (i > 0) out += ';';
    out += uri.path[i].first + "=" +
           percent_encode(uri.path[i].second, false, slash_in_path(uri.scheme));
  }
  for (size_t i = 0; i < uri.query.size(); ++i) {
    out += i == 0 ? '?' : '&';
    out += uri.query[i].first + "=" + percent_encode(uri.query[i].second, true);
  }
  return out;
}

}  // namespace hwca
