#include "ca/dn.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/text.hpp"

namespace hwca::ca {
namespace {

using Attribute = std::pair<std::string, std::string>;  // NAME, value

// Split on `sep`, honouring backslash escapes; the escapes are removed.
std::vector<std::string> split_escaped(const std::string& text, char sep) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      out.back().push_back(text[++i]);
    } else if (text[i] == sep) {
      out.emplace_back();
    } else {
      out.back().push_back(text[i]);
    }
  }
  return out;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(' ');
  size_t b = s.find_last_not_of(' ');
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

Status not_name_value(const std::string& part) {
  return fail(ErrorKind::usage, "subject part '" + printable(part) +
                                    "' is not NAME=value (e.g. /CN=my-ca/O=example or "
                                    "CN=my-ca,O=example)");
}

// OpenSSL's form, "/O=example/CN=my-ca": most significant RDN first, as in the DER.
Result<std::vector<Attribute>> parse_slash(const std::string& text) {
  std::vector<Attribute> out;
  for (const auto& raw : split_escaped(text.substr(1), '/')) {
    std::string part = trim(raw);
    size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0) return tl::unexpected(not_name_value(part).error());
    out.emplace_back(trim(part.substr(0, eq)), trim(part.substr(eq + 1)));
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 4514's form, "CN=my-ca,O=example": most significant RDN LAST (the reverse of the
// DER), as dn_text() prints it. "\," "\+" "\\" ... escape one character and "\c3\a9" one
// byte; spaces around a part are dropped unless escaped. A multi-valued RDN ("CN=a+O=b")
// is refused: write a '+' in a value as "\+".
Result<std::vector<Attribute>> parse_rfc4514(const std::string& text) {
  std::vector<Attribute> out;
  std::string key, value, raw;  // raw: the part as typed, for errors
  bool in_value = false;
  size_t kept = 0;  // value's length up to its last escaped byte (trailing spaces kept)
  auto finish = [&]() -> Status {
    key = trim(key);
    value.erase(std::max(kept, value.find_last_not_of(' ') + 1));
    if (!in_value || key.empty()) return not_name_value(trim(raw));
    out.emplace_back(key, value);
    key.clear(), value.clear(), raw.clear();
    in_value = false;
    kept = 0;
    return {};
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ',') {
      if (auto ok = finish(); !ok) return tl::unexpected(ok.error());
      continue;
    }
    raw.push_back(c);
    std::string& to = in_value ? value : key;
    if (c == '\\') {
      if (i + 1 == text.size()) {
        return fail(ErrorKind::usage, "subject '" + printable(text) + "' ends with a backslash");
      }
      int hi = hex_digit(text[i + 1]);
      int lo = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
      if (hi >= 0 && lo >= 0) {
        to.push_back(static_cast<char>(hi * 16 + lo));
        raw.append(text, i + 1, 2);
        i += 2;
      } else {
        to.push_back(text[++i]);
        raw.push_back(text[i]);
      }
      if (in_value) kept = value.size();
    } else if (!in_value && c == '=') {
      in_value = true;
    } else if (in_value && c == '+') {
      return fail(ErrorKind::usage, "subject '" + printable(text) +
                                        "' has a multi-valued RDN ('+'), which hwca does not "
                                        "make; write a '+' in a value as '\\+'");
    } else if (in_value && c == ' ' && value.empty()) {
      // a leading space of the value
    } else {
      to.push_back(c);
    }
  }
  if (auto ok = finish(); !ok) return tl::unexpected(ok.error());
  std::reverse(out.begin(), out.end());  // most significant first, as in the DER
  return out;
}

}  // namespace

Result<ossl::Ptr<X509_NAME>> parse_dn(const std::string& text) {
  if (text.empty()) return fail(ErrorKind::usage, "the subject is empty (e.g. /CN=my-ca)");
  auto attributes = text[0] == '/' ? parse_slash(text) : parse_rfc4514(text);
  if (!attributes) return tl::unexpected(attributes.error());
  ossl::Ptr<X509_NAME> name(X509_NAME_new());
  if (!name) return fail(ErrorKind::internal, "out of memory");
  for (const auto& [key, value] : *attributes) {
    if (value.empty()) {
      return fail(ErrorKind::usage, "subject attribute " + printable(key) + " has no value");
    }
    if (X509_NAME_add_entry_by_txt(name.get(), key.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                   0) != 1) {
      ERR_clear_error();
      return fail(ErrorKind::usage,
                  "subject attribute '" + printable(key) + "' is unknown or its value is invalid");
    }
  }
  return name;
}

std::string dn_text(const X509_NAME* name) {
  ossl::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::vector<std::string> name_values(const X509_NAME* name, int nid) {
  std::vector<std::string> out;
  for (int i = -1; (i = X509_NAME_get_index_by_NID(name, nid, i)) >= 0;) {
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (n >= 0) out.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
  }
  return out;
}

}  // namespace hwca::ca
