#include "ca/csr_fast_path.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include <cstring>
#include <optional>

namespace hwca::ca {
namespace {

// A library context holding only the null provider, which offers nothing and keeps OpenSSL
// from loading the default provider in its place: a request parsed here keeps its key
// undecoded. Made once and never freed; parsing in it is thread-safe, and a request no longer
// refers to it once its key is set.
OSSL_LIB_CTX* keyless_libctx() {
  static OSSL_LIB_CTX* const ctx = [] {
    OSSL_LIB_CTX* c = OSSL_LIB_CTX_new();
    if (c != nullptr && OSSL_PROVIDER_load(c, "null") == nullptr) {
      OSSL_LIB_CTX_free(c);
      c = nullptr;
    }
    return c;
  }();
  return ctx;
}

// An EC public key as the SubjectPublicKeyInfo holds it (pointing into it).
struct CurvePoint {
  int curve = NID_undef;
  const unsigned char* point = nullptr;
  int len = 0;
};

// The curve and point of an id-ecPublicKey SubjectPublicKeyInfo whose parameter names
// P-256, P-384 or P-521; nothing for any other.
std::optional<CurvePoint> curve_point(const X509_PUBKEY* spki) {
  CurvePoint out;
  X509_ALGOR* algor = nullptr;
  if (spki == nullptr || X509_PUBKEY_get0_param(nullptr, &out.point, &out.len, &algor, spki) != 1) {
    return std::nullopt;
  }
  const ASN1_OBJECT* alg = nullptr;
  int ptype = V_ASN1_UNDEF;
  const void* pval = nullptr;
  X509_ALGOR_get0(&alg, &ptype, &pval, algor);
  if (OBJ_obj2nid(alg) != NID_X9_62_id_ecPublicKey || ptype != V_ASN1_OBJECT) return std::nullopt;
  out.curve = OBJ_obj2nid(static_cast<const ASN1_OBJECT*>(pval));
  if (out.curve != NID_X9_62_prime256v1 && out.curve != NID_secp384r1 &&
      out.curve != NID_secp521r1) {
    return std::nullopt;
  }
  return out;
}

// A curve's parameters as a key without a point, of each kind, made once per curve and
// copied for each request: making a curve's group costs ten times as much as copying one
// (0.14 M instructions for P-256). Copying only reads them, so threads share them; never
// freed. The provider kind is made in the default library context only, which lives as long
// as the process (a key of a context that is freed would outlive it).
struct CurveParams {
  EVP_PKEY* legacy = nullptr;
  EVP_PKEY* provider = nullptr;  // OpenSSL's default library context and provider
};

CurveParams make_params(int curve) {
  CurveParams out;
  unsigned char* der = nullptr;  // ECParameters: a CHOICE whose namedCurve is the OID itself
  int len = i2d_ASN1_OBJECT(OBJ_nid2obj(curve), &der);
  const unsigned char* p = der;
  out.legacy = len > 0 ? d2i_KeyParams(EVP_PKEY_EC, nullptr, &p, len) : nullptr;
  OPENSSL_free(der);
  ossl::Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", ossl::kDefaultProps));
  if (ctx && EVP_PKEY_paramgen_init(ctx.get()) == 1 &&
      EVP_PKEY_CTX_set_group_name(ctx.get(), OBJ_nid2sn(curve)) == 1) {
    EVP_PKEY_paramgen(ctx.get(), &out.provider);
  }
  ERR_clear_error();
  return out;
}

const CurveParams& curve_params(int curve) {
  static const CurveParams p256 = make_params(NID_X9_62_prime256v1);
  static const CurveParams p384 = make_params(NID_secp384r1);
  static const CurveParams p521 = make_params(NID_secp521r1);
  return curve == NID_secp384r1 ? p384 : curve == NID_secp521r1 ? p521 : p256;
}

// The key to put into the request: of the legacy kind, which X509_REQ_set_pubkey encodes
// without an encoder chain. The point is checked to be on the curve.
ossl::Ptr<EVP_PKEY> legacy_key(const CurvePoint& pub) {
  EVP_PKEY* params = curve_params(pub.curve).legacy;
  ossl::Ptr<EVP_PKEY> key(params != nullptr ? EVP_PKEY_dup(params) : nullptr);
  if (!key) return nullptr;
  EVP_PKEY* target = key.get();  // on failure, left to its owner
  const unsigned char* p = pub.point;
  if (d2i_PublicKey(EVP_PKEY_EC, &target, &p, pub.len) == nullptr) return nullptr;
  if (p != pub.point + pub.len) return nullptr;
  return key;
}

// The same key as a default-provider key, to check the signature with in the default
// library context (hwca serve's): a legacy key would be exported to the provider for the
// check, which builds the curve's group again (0.2 M instructions). Null in another library
// context or on any failure: the check then uses the legacy key.
ossl::Ptr<EVP_PKEY> provider_key(const CurvePoint& pub, OSSL_LIB_CTX* libctx) {
  if (libctx != nullptr) return nullptr;
  EVP_PKEY* params = curve_params(pub.curve).provider;
  ossl::Ptr<EVP_PKEY> key(params != nullptr ? EVP_PKEY_dup(params) : nullptr);
  if (!key || EVP_PKEY_set_octet_string_param(key.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                              pub.point, static_cast<size_t>(pub.len)) != 1) {
    return nullptr;
  }
  return key;
}

bool encodes_to(const X509_REQ* req, std::string_view der) {
  unsigned char* out = nullptr;
  int len = i2d_X509_REQ(req, &out);
  bool same = len > 0 && static_cast<size_t>(len) == der.size() &&
              std::memcmp(out, der.data(), der.size()) == 0;
  OPENSSL_free(out);
  return same;
}

}  // namespace

ossl::Ptr<X509_REQ> parse_named_curve_request(std::string_view der, OSSL_LIB_CTX* libctx) {
  OSSL_LIB_CTX* keyless = keyless_libctx();
  if (keyless == nullptr || der.empty()) {
    ERR_clear_error();
    return nullptr;
  }
  const auto* start = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* p = start;
  ossl::Ptr<X509_REQ> req(reinterpret_cast<X509_REQ*>(ASN1_item_d2i_ex(
      nullptr, &p, static_cast<long>(der.size()), ASN1_ITEM_rptr(X509_REQ), keyless, nullptr)));
  bool ok = req && p == start + der.size() && X509_REQ_get_version(req.get()) == X509_REQ_VERSION_1;
  auto pub = ok ? curve_point(X509_REQ_get_X509_PUBKEY(req.get())) : std::nullopt;
  ossl::Ptr<EVP_PKEY> key = pub ? legacy_key(*pub) : nullptr;
  ossl::Ptr<EVP_PKEY> checker = key ? provider_key(*pub, libctx) : nullptr;
  // Checked before the key is set: until the request is changed, it is verified over the
  // bytes received, as the ordinary path does.
  ok = key &&
       X509_REQ_verify_ex(req.get(), checker ? checker.get() : key.get(), libctx,
                          ossl::kDefaultProps) == 1 &&
       X509_REQ_set_pubkey(req.get(), key.get()) == 1;
  // Setting the key makes the request encode itself afresh: keep it only if that gives the
  // bytes received (the key encoded as the client did, and nothing in the request other than
  // strict DER), so that it is the same request the ordinary path would return.
  ok = ok && encodes_to(req.get(), der);
  ERR_clear_error();
  if (!ok) return nullptr;
  return req;
}

}  // namespace hwca::ca
