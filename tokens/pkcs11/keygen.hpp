// Key pair generation inside the token (C_GenerateKeyPair for every type: libp11 0.4.12
// generates RSA only, without control over CKA_EXTRACTABLE).
#pragma once

#include "tokens/keystore.hpp"
#include "tokens/pkcs11/pkcs11_uri.hpp"
#include "tokens/pkcs11/token.hpp"

namespace hwca::tokens::pkcs11 {

// The private key is CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE and not CKA_EXTRACTABLE, signs
// only; both halves carry the URI's label (object=) and id (id=, else 16 random bytes).
// Refuses a label or id already used by a key in the token, and a type the token lacks.
Result<KeyInfo> generate_key_pair(Token& token, const Pkcs11Uri& uri, KeyType type);

}  // namespace hwca::tokens::pkcs11
