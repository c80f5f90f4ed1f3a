#include "ca/request_policy.hpp"

#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>

#include "common/text.hpp"

namespace hwca::ca {
namespace {

constexpr int kKeyEncipherment = 2;
constexpr int kDataEncipherment = 3;
constexpr int kMaxAttributeChars = 128;

std::string allowed_types(const Profile& p) {
  std::string out;
  for (SanType t : p.san_types) out += (out.empty() ? "" : ", ") + std::string(san_type_name(t));
  return out.empty() ? "none" : out;
}

Result<ossl::Ptr<X509_NAME>> checked_subject(const Profile& p, const X509_NAME* requested) {
  ossl::Ptr<X509_NAME> out(X509_NAME_new());
  if (!out) return fail(ErrorKind::internal, "out of memory");
  int common_names = 0;
  int last_set = -1;
  for (int i = 0; i < X509_NAME_entry_count(requested); ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(requested, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    const char* sn = nid == NID_undef ? "an unknown attribute" : OBJ_nid2sn(nid);
    if (X509_NAME_ENTRY_set(e) == last_set) {
      return fail(ErrorKind::usage, "the request's subject has a multi-valued RDN");
    }
    last_set = X509_NAME_ENTRY_set(e);
    if (std::find(p.subject_attributes.begin(), p.subject_attributes.end(), nid) ==
        p.subject_attributes.end()) {
      return fail(ErrorKind::usage, std::string("the request's subject holds ") + sn +
                                        ", which profile '" + p.name + "' does not allow");
    }
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (len < 0) {
      ERR_clear_error();
      return fail(ErrorKind::usage, std::string("the request's ") + sn + " is not valid text");
    }
    std::string value(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
    bool control = std::any_of(value.begin(), value.end(), [](char c) {
      return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    });
    if (value.empty() || control || value.size() > kMaxAttributeChars) {
      return fail(ErrorKind::usage, std::string("the request's ") + sn + " '" + printable(value) +
                                        "' is empty, too long or holds control characters");
    }
    if (nid == NID_commonName) ++common_names;
    if (X509_NAME_add_entry_by_NID(out.get(), nid, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      ERR_clear_error();
      return fail(ErrorKind::usage, std::string("the request's ") + sn + " '" + printable(value) +
                                        "' does not fit that attribute");
    }
  }
  if (common_names > 1) return fail(ErrorKind::usage, "the request's subject has several CNs");
  if (p.require_common_name && common_names == 0) {
    return fail(ErrorKind::usage,
                "profile '" + p.name + "' needs a CN in the subject; the request has none");
  }
  return out;
}

Status take_sans(const Profile& p, const X509_EXTENSION* ext, std::vector<San>& out) {
  auto* names = static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(const_cast<X509_EXTENSION*>(ext)));
  if (names == nullptr) {
    ERR_clear_error();
    return fail(ErrorKind::usage, "the request's subjectAltName does not decode");
  }
  std::unique_ptr<GENERAL_NAMES, void (*)(GENERAL_NAMES*)> hold(names, GENERAL_NAMES_free);
  int count = sk_GENERAL_NAME_num(names);
  if (count > p.max_sans) {
    return fail(ErrorKind::usage, "the request has " + std::to_string(count) + " SANs; profile '" +
                                      p.name + "' allows at most " + std::to_string(p.max_sans));
  }
  SanRules rules{p.allow_wildcard};
  for (int i = 0; i < count; ++i) {
    auto san = san_from_general_name(sk_GENERAL_NAME_value(names, i), rules);
    if (!san) return wrap(san.error(), "the request's SAN");
    if (p.san_types.count(san->type) == 0) {
      return fail(ErrorKind::usage, "the request names " + printable(san->text()) +
                                        ", but profile '" + p.name + "' allows no " +
                                        san_type_name(san->type) +
                                        " SANs (allowed: " + allowed_types(p) + ")");
    }
    // DNS names compare without regard to ASCII case (RFC 4343); the rest exactly.
    auto same = [&](const San& other) {
      if (other.type != san->type) return false;
      if (san->type != SanType::dns) return other.value == san->value;
      return std::equal(other.value.begin(), other.value.end(), san->value.begin(),
                        san->value.end(), [](char x, char y) {
                          return std::tolower(static_cast<unsigned char>(x)) ==
                                 std::tolower(static_cast<unsigned char>(y));
                        });
    };
    if (std::none_of(out.begin(), out.end(), same)) out.push_back(std::move(*san));
  }
  return {};
}

// What Go's crypto/x509 (the kubelet's, the API server's) refuses in a certificate, which
// would carry the request's key as it is: EC parameters other than a named curve (RFC 5480
// allows no other in a certificate), and RSA public exponents other than 65537.
Status check_key_encoding(X509_REQ* req, EVP_PKEY* key) {
  X509_ALGOR* algor = nullptr;
  const unsigned char* point = nullptr;
  int point_len = 0;
  if (X509_PUBKEY_get0_param(nullptr, &point, &point_len, &algor, X509_REQ_get_X509_PUBKEY(req)) !=
      1) {
    ERR_clear_error();
    return fail(ErrorKind::usage, "the request's public key cannot be read");
  }
  const ASN1_OBJECT* alg = nullptr;
  int ptype = V_ASN1_UNDEF;
  const void* pval = nullptr;
  X509_ALGOR_get0(&alg, &ptype, &pval, algor);
  if (OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey && ptype != V_ASN1_OBJECT) {
    return fail(ErrorKind::usage,
                "the request's EC key carries explicit curve parameters; hwca accepts named "
                "curves only (RFC 5480), as Go's crypto/x509 does");
  }
  // One encoding per key, so that the SubjectPublicKeyInfo identifies it (a key revoked for
  // keyCompromise is matched by its SHA-256): an uncompressed point, NULL RSA parameters.
  if (OBJ_obj2nid(alg) == NID_X9_62_id_ecPublicKey &&
      (point_len < 1 || point[0] != POINT_CONVERSION_UNCOMPRESSED)) {
    return fail(ErrorKind::usage,
                "the request's EC point is not in uncompressed form; hwca accepts uncompressed "
                "points only, as Go's crypto/x509 does");
  }
  if (OBJ_obj2nid(alg) == NID_rsaEncryption && ptype != V_ASN1_NULL) {
    return fail(ErrorKind::usage,
                "the request's RSA key lacks its NULL parameters (RFC 3279); Go's crypto/x509 "
                "refuses such a key");
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &raw) != 1) {
      ERR_clear_error();
      return fail(ErrorKind::usage, "the request's RSA public exponent cannot be read");
    }
    ossl::Ptr<BIGNUM> e(raw);
    if (BN_is_word(e.get(), RSA_F4) != 1) {
      std::string shown = std::to_string(BN_num_bits(e.get())) + "-bit number";
      if (BN_num_bits(e.get()) <= 64) {
        char* dec = BN_bn2dec(e.get());
        if (dec != nullptr) shown = dec;
        OPENSSL_free(dec);
      }
      return fail(ErrorKind::usage, "the request's RSA key has public exponent " + shown +
                                        "; hwca accepts 65537 only, as Go's crypto/x509 does");
    }
  }
  return {};
}

// The digest a request's signature was made with: SHA-256, SHA-384 or SHA-512 (RSA-PSS by
// its hash, SHA-1 when its parameters name none); none at all for Ed25519 and Ed448, whose
// keys the profile judges. SHA-1 and weaker (MD5, SHA-224...) are refused.
Status check_signature_digest(const X509_REQ* req) {
  const X509_ALGOR* sig_alg = nullptr;
  X509_REQ_get0_signature(req, nullptr, &sig_alg);
  const ASN1_OBJECT* alg = nullptr;
  int ptype = V_ASN1_UNDEF;
  const void* pval = nullptr;
  if (sig_alg != nullptr) X509_ALGOR_get0(&alg, &ptype, &pval, sig_alg);
  const int sig_nid = alg != nullptr ? OBJ_obj2nid(alg) : NID_undef;
  int md_nid = NID_undef;
  if (sig_nid == NID_rsassaPss) {
    auto* pss = ptype == V_ASN1_SEQUENCE
                    ? static_cast<RSA_PSS_PARAMS*>(ASN1_item_unpack(
                          static_cast<const ASN1_STRING*>(pval), ASN1_ITEM_rptr(RSA_PSS_PARAMS)))
                    : nullptr;
    if (pss == nullptr && ptype != V_ASN1_UNDEF) {
      ERR_clear_error();
      return fail(ErrorKind::usage, "the request's RSA-PSS parameters do not decode");
    }
    md_nid = pss != nullptr && pss->hashAlgorithm != nullptr
                 ? OBJ_obj2nid(pss->hashAlgorithm->algorithm)
                 : NID_sha1;  // RFC 4055: the default hash
    RSA_PSS_PARAMS_free(pss);
  } else if (OBJ_find_sigid_algs(sig_nid, &md_nid, nullptr) != 1) {
    return fail(ErrorKind::usage, "the request is signed with an unknown algorithm");
  } else if (md_nid == NID_undef) {
    return {};  // Ed25519, Ed448: no separate digest
  }
  if (md_nid == NID_sha256 || md_nid == NID_sha384 || md_nid == NID_sha512) return {};
  const char* md = md_nid == NID_undef ? nullptr : OBJ_nid2sn(md_nid);
  return fail(ErrorKind::usage, std::string("the request is signed with ") + OBJ_nid2ln(sig_nid) +
                                    " (digest " + (md != nullptr ? md : "unknown") +
                                    "); hwca accepts request signatures with SHA-256, SHA-384 "
                                    "or SHA-512 only");
}

}  // namespace

Result<Approved> apply_profile(const Profile& p, X509_REQ* req) {
  Approved a;
  a.key = X509_REQ_get0_pubkey(req);
  if (a.key == nullptr) return fail(ErrorKind::usage, "the request has no public key");
  if (auto ok = check_key_encoding(req, a.key); !ok) return tl::unexpected(ok.error());
  if (auto ok = check_signature_digest(req); !ok) return tl::unexpected(ok.error());
  if (auto ok = check_key(p, a.key); !ok) return tl::unexpected(ok.error());
  auto subject = checked_subject(p, X509_REQ_get_subject_name(req));
  if (!subject) return tl::unexpected(subject.error());
  a.subject = std::move(*subject);

  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  std::unique_ptr<STACK_OF(X509_EXTENSION), void (*)(STACK_OF(X509_EXTENSION)*)> hold(
      exts,
      [](STACK_OF(X509_EXTENSION) * s) { sk_X509_EXTENSION_pop_free(s, X509_EXTENSION_free); });
  bool seen_san = false;
  for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
    const X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    int nid = OBJ_obj2nid(X509_EXTENSION_get_object(const_cast<X509_EXTENSION*>(ext)));
    if (nid == NID_subject_alt_name) {
      if (seen_san) return fail(ErrorKind::usage, "the request has two subjectAltName extensions");
      seen_san = true;
      if (auto ok = take_sans(p, ext, a.sans); !ok) return tl::unexpected(ok.error());
    } else if (nid == NID_basic_constraints) {
      auto* bc = static_cast<BASIC_CONSTRAINTS*>(X509V3_EXT_d2i(const_cast<X509_EXTENSION*>(ext)));
      if (bc == nullptr) {
        ERR_clear_error();
        return fail(ErrorKind::usage, "the request's basicConstraints does not decode");
      }
      bool wants_ca = bc->ca != 0;
      BASIC_CONSTRAINTS_free(bc);
      if (wants_ca && !p.ca) {
        return fail(ErrorKind::usage,
                    "the request asks for CA:TRUE, which profile '" + p.name + "' does not grant");
      }
    }
  }
  if (p.require_san && a.sans.empty()) {
    return fail(ErrorKind::usage, "profile '" + p.name + "' needs at least one SAN (" +
                                      allowed_types(p) + "); the request has none");
  }
  if (a.sans.empty() && X509_NAME_entry_count(a.subject.get()) == 0) {
    return fail(ErrorKind::usage, "the request has neither a subject nor a SAN");
  }
  bool rsa = EVP_PKEY_is_a(a.key, "RSA");
  for (int bit : p.key_usage) {
    if (!rsa && (bit == kKeyEncipherment || bit == kDataEncipherment)) continue;
    a.key_usage.push_back(bit);
  }
  return a;
}

}  // namespace hwca::ca
