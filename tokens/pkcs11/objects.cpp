#include "tokens/pkcs11/objects.hpp"

#include <span>

#include "tokens/pkcs11/gateway.hpp"
#include "tokens/public_key.hpp"

namespace hwca::tokens::pkcs11 {
namespace {

const char* class_name(CK_OBJECT_CLASS cls) {
  switch (cls) {
    case CKO_PRIVATE_KEY:
      return "private key";
    case CKO_PUBLIC_KEY:
      return "public key";
    case CKO_CERTIFICATE:
      return "certificate";
    default:
      return "object";
  }
}

Result<std::vector<CK_OBJECT_HANDLE>> find(Token& token, CK_SESSION_HANDLE s,
                                           std::vector<CK_ATTRIBUTE> tmpl,
                                           CK_RV* rv_out = nullptr) {
  // The whole search is bounded as one call: "did not answer C_FindObjects".
  auto seq = token.gateway().sequence("C_FindObjects");
  Rv rv = seq.call(HWCA_CK(C_FindObjectsInit), s, tmpl.data(), tmpl.size());
  if (rv_out != nullptr) *rv_out = rv.value();
  if (!rv) return rv.error("cannot search " + token.describe());
  std::vector<CK_OBJECT_HANDLE> out;
  CK_OBJECT_HANDLE batch[16];
  CK_ULONG n = 0;
  do {
    rv = seq.call(HWCA_CK(C_FindObjects), s, batch, 16, &n);
    if (!rv) break;
    out.insert(out.end(), batch, batch + n);
  } while (n == 16 && out.size() < 4096);
  Rv rv_final = seq.call(HWCA_CK(C_FindObjectsFinal), s);
  if (rv_out != nullptr) *rv_out = !rv ? rv.value() : rv_final.value();
  if (!rv) return rv.error("cannot search " + token.describe());
  if (!rv_final) return rv_final.error("cannot search " + token.describe());
  return out;
}

Result<KeyObject> describe_object(Token& token, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                                  CK_RV* rv_out = nullptr) {
  KeyObject k;
  k.handle = h;
  CK_KEY_TYPE kt = CKK_EC;
  CK_ATTRIBUTE a{CKA_KEY_TYPE, &kt, sizeof kt};
  Rv rv = token.gateway().call(HWCA_CK(C_GetAttributeValue), s, h, &a, 1);
  if (rv_out != nullptr) *rv_out = rv.value();
  if (!rv) return rv.error("cannot read a key type in " + token.describe());
  k.key_type = kt;
  auto label = get_bytes(token, s, h, CKA_LABEL);
  auto id = get_bytes(token, s, h, CKA_ID);
  k.label = label ? *label : "";
  k.id = id ? *id : "";
  return k;
}

std::string selector(const Pkcs11Uri& uri) {
  std::string out;
  if (uri.object) out += "object=" + percent_encode(*uri.object);
  if (uri.id) out += std::string(out.empty() ? "" : ";") + "id=" + hex(*uri.id) + " (hex)";
  return out;
}

Result<ossl::Ptr<EVP_PKEY>> rsa_public(const std::string& n, const std::string& e) {
  auto bytes = [](const std::string& s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  auto key = rsa_public_key(bytes(n), bytes(e));
  if (!key)
    return fail(ErrorKind::device, "the token's RSA public key is invalid: " + ossl::take_errors());
  return key;
}

Result<ossl::Ptr<EVP_PKEY>> ec_public(const std::string& params_der, const std::string& point) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(params_der.data());
  ASN1_OBJECT* oid = d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(params_der.size()));
  if (oid == nullptr) {
    ERR_clear_error();
    return fail(ErrorKind::device, "the token's EC key has parameters that are not a named curve");
  }
  int nid = OBJ_obj2nid(oid);
  ASN1_OBJECT_free(oid);
  const char* group = OBJ_nid2sn(nid);
  if (nid == NID_undef || group == nullptr) {
    return fail(ErrorKind::device, "the token's EC key uses a curve OpenSSL does not know");
  }
  // CKA_EC_POINT is a DER OCTET STRING; some tokens give the bare point.
  std::string raw = point;
  p = reinterpret_cast<const unsigned char*>(point.data());
  if (ASN1_OCTET_STRING* os = d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(point.size()));
      os != nullptr && p == reinterpret_cast<const unsigned char*>(point.data()) + point.size()) {
    raw.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(os)),
               static_cast<size_t>(ASN1_STRING_length(os)));
    ASN1_OCTET_STRING_free(os);
  } else {
    ASN1_OCTET_STRING_free(os);
    ERR_clear_error();
  }
  auto key = ec_public_key(
      group, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(raw.data()), raw.size()));
  if (!key)
    return fail(ErrorKind::device, "the token's EC public key is invalid: " + ossl::take_errors());
  return key;
}

}  // namespace

Result<std::string> get_bytes(Token& token, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                              CK_ATTRIBUTE_TYPE type) {
  // The size, then the value, bounded as one call.
  auto seq = token.gateway().sequence("C_GetAttributeValue");
  CK_ATTRIBUTE a{type, nullptr, 0};
  Rv rv = seq.call(HWCA_CK(C_GetAttributeValue), s, obj, &a, 1);
  if (!rv) return rv.error("cannot read an attribute in " + token.describe());
  if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    return fail(ErrorKind::device, "attribute unavailable in " + token.describe());
  }
  std::string out(a.ulValueLen, '\0');
  a.pValue = out.data();
  rv = seq.call(HWCA_CK(C_GetAttributeValue), s, obj, &a, 1);
  if (!rv) return rv.error("cannot read an attribute in " + token.describe());
  out.resize(a.ulValueLen);
  return out;
}

Result<bool> get_bool(Token& token, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                      CK_ATTRIBUTE_TYPE type) {
  CK_BBOOL value = CK_FALSE;
  CK_ATTRIBUTE a{type, &value, sizeof value};
  Rv rv = token.gateway().call(HWCA_CK(C_GetAttributeValue), s, obj, &a, 1);
  if (!rv) return rv.error("cannot read an attribute in " + token.describe());
  return value == CK_TRUE;
}

CK_RV probe_attribute(Token& token, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                      CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  return token.gateway().call(HWCA_CK(C_GetAttributeValue), s, obj, &a, 1).value();
}

Result<KeyObject> find_key(Token& token, CK_SESSION_HANDLE s, const Pkcs11Uri& uri,
                           CK_OBJECT_CLASS cls, CK_RV* rv) {
  if (!uri.selects_object()) {
    return fail(ErrorKind::usage, "the URI names no key: add object=LABEL and/or id=%XX...");
  }
  std::vector<CK_ATTRIBUTE> tmpl{{CKA_CLASS, &cls, sizeof cls}};
  std::string label = uri.object.value_or("");
  std::string id = uri.id.value_or("");
  if (uri.object) tmpl.push_back({CKA_LABEL, label.data(), label.size()});
  if (uri.id) tmpl.push_back({CKA_ID, id.data(), id.size()});
  auto handles = find(token, s, tmpl, rv);
  if (!handles) return tl::unexpected(handles.error());
  if (handles->empty()) {
    return fail(ErrorKind::not_found, std::string("no ") + class_name(cls) + " " + selector(uri) +
                                          " in " + token.describe());
  }
  if (handles->size() > 1) {
    return fail(ErrorKind::conflict, std::to_string(handles->size()) + " " + class_name(cls) +
                                         "s match " + selector(uri) + " in " + token.describe() +
                                         "; add id= to choose one");
  }
  return describe_object(token, s, handles->front(), rv);
}

Result<std::vector<KeyObject>> find_all_keys(Token& token, CK_SESSION_HANDLE s,
                                             CK_OBJECT_CLASS cls) {
  auto handles = find(token, s, {{CKA_CLASS, &cls, sizeof cls}});
  if (!handles) return tl::unexpected(handles.error());
  std::vector<KeyObject> out;
  for (auto h : *handles) {
    auto k = describe_object(token, s, h);
    if (!k) return tl::unexpected(k.error());
    out.push_back(std::move(*k));
  }
  return out;
}

Result<ossl::Ptr<EVP_PKEY>> public_key_of(Token& token, CK_SESSION_HANDLE s, const KeyObject& pub) {
  if (pub.key_type == CKK_RSA) {
    auto n = get_bytes(token, s, pub.handle, CKA_MODULUS);
    auto e = get_bytes(token, s, pub.handle, CKA_PUBLIC_EXPONENT);
    if (n && e) return rsa_public(*n, *e);
  } else if (pub.key_type == CKK_EC) {
    auto params = get_bytes(token, s, pub.handle, CKA_EC_PARAMS);
    auto point = get_bytes(token, s, pub.handle, CKA_EC_POINT);
    if (params && point) return ec_public(*params, *point);
  }
  return fail(ErrorKind::device, "public key '" + pub.label + "' in " + token.describe() +
                                     " lacks its key attributes");
}

Result<ossl::Ptr<EVP_PKEY>> read_public_key(Token& token, CK_SESSION_HANDLE s,
                                            const KeyObject& priv) {
  // 1. The public key object with the same id (or, without an id, the same label).
  Pkcs11Uri match;
  if (!priv.id.empty())
    match.id = priv.id;
  else
    match.object = priv.label;
  if (match.selects_object()) {
    auto pub = find_key(token, s, match, CKO_PUBLIC_KEY);
    if (pub && pub->key_type == priv.key_type) {
      if (auto key = public_key_of(token, s, *pub)) return key;
    } else if (!pub && pub.error().kind != ErrorKind::not_found) {
      return tl::unexpected(pub.error());
    }
  }
  // 2. RSA private key objects carry the modulus and public exponent themselves.
  if (priv.key_type == CKK_RSA) {
    auto n = get_bytes(token, s, priv.handle, CKA_MODULUS);
    auto e = get_bytes(token, s, priv.handle, CKA_PUBLIC_EXPONENT);
    if (n && e) return rsa_public(*n, *e);
  }
  // 3. A certificate with the same id.
  if (!priv.id.empty()) {
    Pkcs11Uri cert_match;
    cert_match.id = priv.id;
    if (auto cert = find_key(token, s, cert_match, CKO_CERTIFICATE)) {
      if (auto der = get_bytes(token, s, cert->handle, CKA_VALUE)) {
        const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
        ossl::Ptr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der->size())));
        if (x) {
          if (EVP_PKEY* k = X509_get_pubkey(x.get())) return ossl::Ptr<EVP_PKEY>(k);
        }
        ERR_clear_error();
      }
    }
  }
  return fail(ErrorKind::not_found, "key '" + priv.label + "' in " + token.describe() +
                                        " has no public key object or certificate with its id");
}

std::string ec_params_der(KeyType type) {
  int nid = type == KeyType::ec_p384 ? NID_secp384r1 : NID_X9_62_prime256v1;
  const ASN1_OBJECT* oid = OBJ_nid2obj(nid);
  unsigned char* der = nullptr;
  int len = i2d_ASN1_OBJECT(oid, &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len > 0 ? len : 0));
  OPENSSL_free(der);
  return out;
}

}  // namespace hwca::tokens::pkcs11
