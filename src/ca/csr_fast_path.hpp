// parse_csr's fast path (csr.cpp), for the request nearly every client sends: an EC key on a
// named curve hwca accepts (P-256, P-384, P-521).
//
// OpenSSL 3.0 decodes a request's public key while it parses the request, through an
// OSSL_DECODER chain it builds anew for every parse (3.2 caches it): in `hwca serve`, 1.4 M
// instructions, a third of an EST enrollment and more than checking the ECDSA signature. Here
// the request is parsed in a library context without providers, where that chain is empty and
// the key is left undecoded; the key is made from the SubjectPublicKeyInfo's fields with
// OpenSSL's own decoders for EC parameters and points (d2i_KeyParams, once per curve;
// d2i_PublicKey). That makes a key of OpenSSL's legacy kind, which X509_REQ_set_pubkey encodes
// without an encoder chain and which works with every EVP call hwca makes on a request's key.
// The signature is checked over the bytes received (in OpenSSL's default library context, with
// a provider copy of the key, which spares exporting it), then the key is put into the request.
#pragma once

#include <string_view>

#include "common/ossl.hpp"

namespace hwca::ca {

// The DER request, verified, or null whenever the fast path does not apply or anything fails
// (another key type or curve, bad syntax, a wrong signature, ...): parse_csr then takes the
// ordinary path, which decides and words the refusal, so this never changes what is accepted.
// A request it returns encodes to exactly `der` and has its public key set; its own library
// context is OpenSSL's default one (the signature was checked in `libctx`).
ossl::Ptr<X509_REQ> parse_named_curve_request(std::string_view der, OSSL_LIB_CTX* libctx);

}  // namespace hwca::ca
