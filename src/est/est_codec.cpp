#include "est/est_codec.hpp"

#include <openssl/asn1t.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <cctype>
#include <memory>

#include "ca/csr.hpp"
#include "common/base64.hpp"

namespace hwca::est {
namespace {

constexpr size_t kLineChars = 64;

// CsrAttrs (RFC 7030 section 4.5.2):
//   CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID
//   AttrOrOID ::= CHOICE { oid OBJECT IDENTIFIER, attribute Attribute }
//   Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET SIZE(1..MAX) OF ANY }
// Attribute is OpenSSL's X509_ATTRIBUTE.
// clang-format off
struct AttrOrOid {
  int type;
  union {
    ASN1_OBJECT* oid;
    X509_ATTRIBUTE* attribute;
  } value;
};
constexpr int kChoiceOid = 0;
constexpr int kChoiceAttribute = 1;

ASN1_CHOICE(AttrOrOid) = {
  ASN1_SIMPLE(AttrOrOid, value.oid, ASN1_OBJECT),
  ASN1_SIMPLE(AttrOrOid, value.attribute, X509_ATTRIBUTE),
} static_ASN1_CHOICE_END(AttrOrOid)

IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(AttrOrOid)

DEFINE_STACK_OF(AttrOrOid)
using CsrAttrsSeq = STACK_OF(AttrOrOid);

ASN1_ITEM_TEMPLATE(CsrAttrsSeq) =
  ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CsrAttrs, AttrOrOid)
static_ASN1_ITEM_TEMPLATE_END(CsrAttrsSeq)
    // clang-format on

    struct CsrAttrsFree {
  void operator()(CsrAttrsSeq* s) const { sk_AttrOrOid_pop_free(s, AttrOrOid_free); }
};
struct Pkcs7Free {
  void operator()(PKCS7* p) const { PKCS7_free(p); }
};

// Base64 in lines of at most 64 characters, each ending with LF.
std::string wrapped_base64(std::string_view der) {
  std::string flat = base64_encode(der);
  std::string out;
  out.reserve(flat.size() + flat.size() / kLineChars + 1);
  for (size_t pos = 0; pos < flat.size(); pos += kLineChars) {
    out.append(flat, pos, kLineChars);
    out += "\n";
  }
  return out;
}

bool only_space(std::string_view s) {
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) == 0) return false;
  }
  return true;
}

// The DER of an OpenSSL object, through its i2d function.
template <typename T, typename I2d>
Result<std::string> der_of(T* object, I2d i2d, const char* what) {
  unsigned char* der = nullptr;
  int len = i2d(object, &der);
  if (len <= 0) {
    return fail(ErrorKind::internal,
                std::string("cannot encode the ") + what + ": " + ossl::take_errors());
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

int i2d_csr_attrs(const CsrAttrsSeq* attrs, unsigned char** out) {
  return ASN1_item_i2d(reinterpret_cast<const ASN1_VALUE*>(attrs), out,
                       ASN1_ITEM_rptr(CsrAttrsSeq));
}

Result<const ASN1_OBJECT*> object_of(int nid, const char* what) {
  const ASN1_OBJECT* obj = nid == NID_undef ? nullptr : OBJ_nid2obj(nid);
  if (obj == nullptr || OBJ_length(obj) == 0) {
    ERR_clear_error();
    return fail(ErrorKind::internal,
                std::string("csrattrs: ") + what + " " + std::to_string(nid) + " has no OID");
  }
  return obj;
}

}  // namespace

std::optional<BasicCredentials> parse_basic_authorization(std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  auto decoded = base64_decode(header.substr(kScheme.size()));
  if (!decoded) return std::nullopt;
  SecureString plain(*decoded);
  OPENSSL_cleanse(decoded->data(), decoded->size());
  auto colon = plain.view().find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  BasicCredentials out;
  out.user = std::string(plain.view().substr(0, colon));
  out.password = SecureString(plain.view().substr(colon + 1));
  return out;
}

bool is_media_type(std::string_view content_type, std::string_view type) {
  std::string_view given = content_type.substr(0, content_type.find(';'));
  while (!given.empty() && given.back() == ' ') given.remove_suffix(1);
  if (given.size() != type.size()) return false;
  for (size_t i = 0; i < given.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(given[i])) != type[i]) return false;
  }
  return true;
}

Result<ossl::Ptr<X509_REQ>> decode_pkcs10_body(std::string_view body, OSSL_LIB_CTX* libctx) {
  if (only_space(body)) return fail(ErrorKind::usage, "the request body is empty");
  // Base64 of kMaxCsrBytes, with generous room for line breaks: anything longer cannot
  // hold an acceptable request, and is not decoded.
  if (body.size() > 2 * ca::kMaxCsrBytes) {
    return fail(ErrorKind::usage, "the request body is larger than " +
                                      std::to_string(2 * ca::kMaxCsrBytes / 1024) + " KiB");
  }
  auto der = base64_decode(body);
  if (!der) return fail(ErrorKind::usage, "the request body is not base64");
  const std::string not_der = "the request body is not a DER PKCS#10 request: ";
  if (der->empty()) return fail(ErrorKind::usage, not_der + "it is empty once decoded");
  if (der->size() > ca::kMaxCsrBytes) {
    return fail(ErrorKind::usage,
                not_der + "it is larger than " + std::to_string(ca::kMaxCsrBytes / 1024) + " KiB");
  }
  // A DER request is a SEQUENCE. Checking its first byte also keeps parse_csr from
  // reading the data as PEM, which it would accept from a file but EST does not.
  if (static_cast<unsigned char>((*der)[0]) != 0x30) {
    bool pem = der->find("-----BEGIN") != std::string::npos;
    return fail(ErrorKind::usage, not_der + (pem ? "it holds PEM text, not DER"
                                                 : "it does not start with a DER SEQUENCE"));
  }
  auto req = ca::parse_csr(*der, "it", libctx);
  if (!req) {
    if (req.error().message.find("signature does not verify") != std::string::npos) {
      return fail(ErrorKind::usage, "the request's signature does not verify");
    }
    return fail(ErrorKind::usage, not_der + req.error().message);
  }
  return req;
}

Result<std::string> certs_only_body(const std::vector<const X509*>& certs) {
  std::unique_ptr<PKCS7, Pkcs7Free> p7(PKCS7_new());
  // A degenerate SignedData (RFC 5652 section 5, RFC 7030 section 4.1.3): version 1, no
  // digest algorithms, encapsulated content of type id-data with the content absent, the
  // certificates, no signers.
  if (!p7 || PKCS7_set_type(p7.get(), NID_pkcs7_signed) != 1 ||
      PKCS7_content_new(p7.get(), NID_pkcs7_data) != 1 || PKCS7_set_detached(p7.get(), 1) != 1) {
    return fail(ErrorKind::internal, "cannot make a PKCS#7 SignedData: " + ossl::take_errors());
  }
  for (const X509* cert : certs) {
    if (cert == nullptr) return fail(ErrorKind::internal, "certs-only: a null certificate");
    // PKCS7_add_certificate takes a reference of its own and only reads the certificate.
    if (PKCS7_add_certificate(p7.get(), const_cast<X509*>(cert)) != 1) {
      return fail(ErrorKind::internal,
                  "cannot add a certificate to the PKCS#7: " + ossl::take_errors());
    }
  }
  auto der = der_of(p7.get(), i2d_PKCS7, "certs-only PKCS#7");
  if (!der) return tl::unexpected(der.error());
  return wrapped_base64(*der);
}

Result<std::vector<ossl::Ptr<X509>>> decode_certs_only_body(std::string_view body) {
  if (only_space(body)) return fail(ErrorKind::usage, "the certs-only body is empty");
  auto der = base64_decode(body);
  if (!der) return fail(ErrorKind::usage, "the certs-only body is not base64");
  const auto* start = reinterpret_cast<const unsigned char*>(der->data());
  const unsigned char* p = start;
  std::unique_ptr<PKCS7, Pkcs7Free> p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der->size())));
  if (!p7) {
    ERR_clear_error();
    return fail(ErrorKind::usage, "the certs-only body is not a DER PKCS#7 (garbage or truncated)");
  }
  if (p != start + der->size()) {
    return fail(ErrorKind::usage, "the certs-only body has bytes after the PKCS#7");
  }
  if (!PKCS7_type_is_signed(p7.get()) || p7->d.sign == nullptr) {
    return fail(ErrorKind::usage, "the certs-only body's PKCS#7 is not a SignedData");
  }
  std::vector<ossl::Ptr<X509>> out;
  STACK_OF(X509)* certs = p7->d.sign->cert;
  for (int i = 0; i < sk_X509_num(certs); ++i) {
    X509* cert = sk_X509_value(certs, i);
    if (X509_up_ref(cert) != 1) return fail(ErrorKind::internal, "X509_up_ref failed");
    out.emplace_back(cert);
  }
  return out;
}

Result<std::string> csrattrs_body(const CsrAttrs& attrs) {
  std::unique_ptr<CsrAttrsSeq, CsrAttrsFree> seq(sk_AttrOrOid_new_null());
  if (!seq) return fail(ErrorKind::internal, "out of memory");
  auto push = [&](AttrOrOid* item) -> Status {
    if (item == nullptr || sk_AttrOrOid_push(seq.get(), item) <= 0) {
      AttrOrOid_free(item);
      return fail(ErrorKind::internal, "out of memory");
    }
    return {};
  };
  auto push_oid = [&](int nid, const char* what) -> Status {
    auto obj = object_of(nid, what);
    if (!obj) return tl::unexpected(obj.error());
    AttrOrOid* item = AttrOrOid_new();
    if (item != nullptr) {
      item->type = kChoiceOid;
      item->value.oid = OBJ_dup(*obj);
      if (item->value.oid == nullptr) {
        AttrOrOid_free(item);
        item = nullptr;
      }
    }
    return push(item);
  };
  for (int nid : attrs.oids) {
    if (auto ok = push_oid(nid, "NID"); !ok) return tl::unexpected(ok.error());
  }
  if (attrs.curve != 0 && attrs.key_type == 0) {
    return fail(ErrorKind::internal, "csrattrs: a curve without a key type");
  }
  if (attrs.key_type != 0 && attrs.curve == 0) {
    // An Attribute needs at least one value: a key type alone goes as a plain OID.
    if (auto ok = push_oid(attrs.key_type, "key type"); !ok) return tl::unexpected(ok.error());
  } else if (attrs.key_type != 0) {
    auto type = object_of(attrs.key_type, "key type");
    if (!type) return tl::unexpected(type.error());
    auto curve = object_of(attrs.curve, "curve");
    if (!curve) return tl::unexpected(curve.error());
    ASN1_OBJECT* value = OBJ_dup(*curve);
    X509_ATTRIBUTE* attribute =
        value == nullptr ? nullptr : X509_ATTRIBUTE_create(attrs.key_type, V_ASN1_OBJECT, value);
    if (attribute == nullptr) {
      ASN1_OBJECT_free(value);
      return fail(ErrorKind::internal,
                  "cannot make the key type attribute: " + ossl::take_errors());
    }
    AttrOrOid* item = AttrOrOid_new();
    if (item == nullptr) {
      X509_ATTRIBUTE_free(attribute);
      return fail(ErrorKind::internal, "out of memory");
    }
    item->type = kChoiceAttribute;
    item->value.attribute = attribute;
    if (auto ok = push(item); !ok) return tl::unexpected(ok.error());
  }
  auto der = der_of(seq.get(), i2d_csr_attrs, "CsrAttrs");
  if (!der) return tl::unexpected(der.error());
  return wrapped_base64(*der);
}

}  // namespace hwca::est
