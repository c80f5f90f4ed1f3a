#include "ca/dn.hpp"

#include <vector>

#include "common/text.hpp"

namespace hwca::ca {
namespace {

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

}  // namespace

Result<ossl::Ptr<X509_NAME>> parse_dn(const std::string& text) {
  if (text.empty()) return fail(ErrorKind::usage, "the subject is empty (e.g. /CN=my-ca)");
  bool slash = text[0] == '/';
  std::vector<std::string> parts = split_escaped(slash ? text.substr(1) : text, slash ? '/' : ',');
  ossl::Ptr<X509_NAME> name(X509_NAME_new());
  if (!name) return fail(ErrorKind::internal, "out of memory");
  for (const auto& raw : parts) {
    std::string part = trim(raw);
    size_t eq = part.find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail(ErrorKind::usage, "subject part '" + printable(part) +
                                        "' is not NAME=value (e.g. /CN=my-ca/O=example)");
    }
    std::string key = trim(part.substr(0, eq));
    std::string value = trim(part.substr(eq + 1));
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
