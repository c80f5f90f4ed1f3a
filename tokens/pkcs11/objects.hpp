// Finding key objects in a token and reading their attributes (C_FindObjects and
// C_GetAttributeValue through the token's gateway: libp11 0.4.12 hides object handles and
// most attributes).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ossl.hpp"
#include "tokens/keystore.hpp"
#include "tokens/pkcs11/pkcs11_api.hpp"
#include "tokens/pkcs11/pkcs11_uri.hpp"
#include "tokens/pkcs11/token.hpp"

namespace hwca::tokens::pkcs11 {

struct KeyObject {
  CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
  CK_KEY_TYPE key_type = CKK_EC;
  std::string label;
  std::string id;  // raw bytes
};

// The one object of `cls` that the URI's object= and id= select. Errors name the token and
// say whether nothing or several objects matched; `rv`, when given, receives the answer of
// the call that failed (CKR_OK when the search itself worked).
Result<KeyObject> find_key(Token& token, CK_SESSION_HANDLE s, const Pkcs11Uri& uri,
                           CK_OBJECT_CLASS cls, CK_RV* rv = nullptr);

// All objects of a class (for listing).
Result<std::vector<KeyObject>> find_all_keys(Token& token, CK_SESSION_HANDLE s,
                                             CK_OBJECT_CLASS cls);

Result<std::string> get_bytes(Token& token, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                              CK_ATTRIBUTE_TYPE type);
Result<bool> get_bool(Token& token, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                      CK_ATTRIBUTE_TYPE type);
// The raw CK_RV of reading one attribute (tests check that CKA_VALUE is refused).
CK_RV probe_attribute(Token& token, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                      CK_ATTRIBUTE_TYPE type);

// The key held by a public key object (RSA modulus and exponent, or EC parameters and point).
Result<ossl::Ptr<EVP_PKEY>> public_key_of(Token& token, CK_SESSION_HANDLE s, const KeyObject& pub);

// The public key for a private key: its public key object (same id, else same label), or a
// certificate with the same id, or for RSA the private object's own modulus and exponent.
Result<ossl::Ptr<EVP_PKEY>> read_public_key(Token& token, CK_SESSION_HANDLE s,
                                            const KeyObject& priv);

// DER of the named curve OID for an EC key type, from OpenSSL's object table.
std::string ec_params_der(KeyType type);

}  // namespace hwca::tokens::pkcs11
