#include "tokens/pkcs11/keygen.hpp"

#include <openssl/rand.h>

#include <algorithm>

#include "tokens/pkcs11/gateway.hpp"
#include "tokens/pkcs11/objects.hpp"

namespace hwca::tokens::pkcs11 {
namespace {

// Closes a read-write session when it goes out of scope.
struct RwSession {
  Token& token;
  CK_SESSION_HANDLE h;
  ~RwSession() { (void)token.gateway().call(HWCA_CK(C_CloseSession), h); }
};

Status check_mechanism(Token& token, KeyType type) {
  CK_MECHANISM_TYPE m = is_rsa(type) ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN;
  const char* mname = is_rsa(type) ? "CKM_RSA_PKCS_KEY_PAIR_GEN" : "CKM_EC_KEY_PAIR_GEN";
  CK_MECHANISM_INFO info{};
  Rv rv(CKR_OK);
  bool listed = false;
  {
    // The list and the mechanism's details, bounded as one call.
    auto seq = token.gateway().sequence("C_GetMechanismList");
    CK_ULONG count = 0;
    rv = seq.call(HWCA_CK(C_GetMechanismList), token.slot_id(), nullptr, &count);
    std::vector<CK_MECHANISM_TYPE> mechanisms(count);
    if (rv) rv = seq.call(HWCA_CK(C_GetMechanismList), token.slot_id(), mechanisms.data(), &count);
    if (!rv) return rv.error("cannot list the mechanisms of " + token.describe());
    mechanisms.resize(count);
    listed = std::find(mechanisms.begin(), mechanisms.end(), m) != mechanisms.end();
    if (listed) rv = seq.call(HWCA_CK(C_GetMechanismInfo), token.slot_id(), m, &info);
  }
  if (!listed || rv == CKR_MECHANISM_INVALID) {
    return fail(ErrorKind::device, token.describe() + " cannot generate " + key_type_name(type) +
                                       " keys (no " + mname + ")");
  }
  if (!rv) return rv.error("cannot query the mechanisms of " + token.describe());
  if ((info.flags & CKF_GENERATE_KEY_PAIR) == 0) {
    return fail(ErrorKind::device, token.describe() + " cannot generate " + key_type_name(type) +
                                       " keys (" + mname + " lacks CKF_GENERATE_KEY_PAIR)");
  }
  auto bits = static_cast<CK_ULONG>(key_bits(type));
  // Some tokens state EC sizes in bytes; accept either reading.
  bool fits = (bits >= info.ulMinKeySize && bits <= info.ulMaxKeySize) ||
              (!is_rsa(type) && bits / 8 >= info.ulMinKeySize && bits / 8 <= info.ulMaxKeySize) ||
              info.ulMaxKeySize == 0;
  if (!fits) {
    return fail(ErrorKind::device, token.describe() + " cannot generate " + key_type_name(type) +
                                       " keys (" + mname + " sizes " +
                                       std::to_string(info.ulMinKeySize) + "-" +
                                       std::to_string(info.ulMaxKeySize) + ")");
  }
  return {};
}

Status check_unused(Token& token, CK_SESSION_HANDLE s, const std::string& label,
                    const std::string& id) {
  for (CK_OBJECT_CLASS cls : {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY}) {
    Pkcs11Uri by_label;
    by_label.object = label;
    auto found = find_key(token, s, by_label, cls);
    if (found || found.error().kind == ErrorKind::conflict) {
      return fail(ErrorKind::conflict, "a key labelled '" + label + "' already exists in " +
                                           token.describe() + "; choose another object= label");
    }
    if (found.error().kind != ErrorKind::not_found) return tl::unexpected(found.error());
    Pkcs11Uri by_id;
    by_id.id = id;
    found = find_key(token, s, by_id, cls);
    if (found || found.error().kind == ErrorKind::conflict) {
      return fail(ErrorKind::conflict, "a key with id " + hex(id) + " already exists in " +
                                           token.describe() + "; choose another id=");
    }
    if (found.error().kind != ErrorKind::not_found) return tl::unexpected(found.error());
  }
  return {};
}

}  // namespace

Result<KeyInfo> generate_key_pair(Token& token, const Pkcs11Uri& uri, KeyType type) {
  if (!uri.object || uri.object->empty()) {
    return fail(ErrorKind::usage, "the URI must name the new key with object=LABEL");
  }
  if (uri.type && *uri.type != "private") {
    return fail(ErrorKind::usage, "a generated key is a key pair; drop type=" + *uri.type);
  }
  std::string label = *uri.object;
  std::string id;
  if (uri.id) {
    if (uri.id->empty()) return fail(ErrorKind::usage, "URI attribute 'id' is empty");
    id = *uri.id;
  } else {
    id.resize(16);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(id.data()), 16) != 1) {
      return fail(ErrorKind::internal, "no randomness for a key id");
    }
  }
  if (auto ok = check_mechanism(token, type); !ok) return tl::unexpected(ok.error());
  auto h = token.open_rw_session();
  if (!h) return tl::unexpected(h.error());
  RwSession session{token, *h};
  if (auto ok = check_unused(token, session.h, label, id); !ok) return tl::unexpected(ok.error());

  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, priv_class = CKO_PRIVATE_KEY;
  CK_KEY_TYPE kt = is_rsa(type) ? CKK_RSA : CKK_EC;
  CK_ULONG modulus_bits = static_cast<CK_ULONG>(key_bits(type));
  CK_BYTE exponent[] = {0x01, 0x00, 0x01};
  std::string ec_params = ec_params_der(type);

  std::vector<CK_ATTRIBUTE> pub{{CKA_CLASS, &pub_class, sizeof pub_class},
                                {CKA_KEY_TYPE, &kt, sizeof kt},
                                {CKA_TOKEN, &yes, sizeof yes},
                                {CKA_PRIVATE, &no, sizeof no},
                                {CKA_VERIFY, &yes, sizeof yes},
                                {CKA_ENCRYPT, &no, sizeof no},
                                {CKA_WRAP, &no, sizeof no},
                                {CKA_LABEL, label.data(), label.size()},
                                {CKA_ID, id.data(), id.size()}};
  if (is_rsa(type)) {
    pub.push_back({CKA_MODULUS_BITS, &modulus_bits, sizeof modulus_bits});
    pub.push_back({CKA_PUBLIC_EXPONENT, exponent, sizeof exponent});
  } else {
    pub.push_back({CKA_EC_PARAMS, ec_params.data(), ec_params.size()});
  }
  std::vector<CK_ATTRIBUTE> priv{{CKA_CLASS, &priv_class, sizeof priv_class},
                                 {CKA_KEY_TYPE, &kt, sizeof kt},
                                 {CKA_TOKEN, &yes, sizeof yes},
                                 {CKA_PRIVATE, &yes, sizeof yes},
                                 {CKA_SENSITIVE, &yes, sizeof yes},
                                 {CKA_EXTRACTABLE, &no, sizeof no},
                                 {CKA_SIGN, &yes, sizeof yes},
                                 {CKA_DECRYPT, &no, sizeof no},
                                 {CKA_UNWRAP, &no, sizeof no},
                                 {CKA_DERIVE, &no, sizeof no},
                                 {CKA_LABEL, label.data(), label.size()},
                                 {CKA_ID, id.data(), id.size()}};
  CK_MECHANISM mech{is_rsa(type) ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE pub_h = CK_INVALID_HANDLE, priv_h = CK_INVALID_HANDLE;
  Rv rv = token.gateway().call(HWCA_CK(C_GenerateKeyPair), session.h, &mech, pub.data(), pub.size(),
                               priv.data(), priv.size(), &pub_h, &priv_h);
  if (!rv) {
    return rv.error("generating a " + std::string(key_type_name(type)) + " key in " +
                    token.describe() + " failed");
  }
  KeyInfo info;
  info.label = label;
  info.id_hex = hex(id);
  info.type = key_type_name(type);
  info.uri = key_uri(token.info().uri, label, id);
  return info;
}

}  // namespace hwca::tokens::pkcs11
