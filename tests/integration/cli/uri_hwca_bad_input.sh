#!/usr/bin/env bash
# Malformed URIs, an unknown scheme, a missing token and a missing key: hwca exits with the
# documented code and one "hwca: " line; openssl through the provider fails with the same
# text.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

gen_key ec-p256 present

# bad_uri CODE TEXT URI: hwca key show (and key list / key generate) and openssl req.
bad_uri() {
  local code=$1 text=$2 uri=$3
  expect_fail "$code" "$text" hwca_pin key show --key "$uri"
  local msg=${LAST_ERR#hwca: }
  expect_fail "$code" "$text" hwca_pin key list --token "$uri"
  expect_fail "$code" "$text" hwca_pin key generate --key "$uri"
  # openssl: non-zero, and its message contains hwca's text.
  expect_ossl_fail "$msg" ossl req -new -config "$OSSL_CNF" -key "$uri" \
    -passin "file:$PIN_FILE" -subj /CN=x -out x.csr
}

# Malformed URIs: exit 2.
bad_uri 2 "empty attribute in URI path (stray ';')" 'pkcs11:token=a;;object=b'
bad_uri 2 "URI attribute 'object' holds a character that must be percent-encoded: ' '" \
  'pkcs11:object=a b'
bad_uri 2 "unknown pkcs11 URI attribute 'foo'" 'pkcs11:foo=bar'
bad_uri 2 "bad percent-encoding in URI attribute 'object'" 'pkcs11:token=ca;object=k%zz'
bad_uri 2 "URI attribute 'token' appears twice" 'pkcs11:token=ca;token=ca;object=present'
bad_uri 2 "URI attribute 'type' must be public, private, cert" 'pkcs11:token=ca;type=bogus'
bad_uri 2 "unknown pkcs11 URI query attribute 'frob'" 'pkcs11:token=ca;object=present?frob=1'

# An unknown scheme: exit 2, naming the schemes hwca knows.
expect_fail 2 "'file:' is not a key URI scheme hwca knows (expected pkcs11:, tpm2:)" \
  hwca_pin key show --key file:/x
expect_fail 2 "a key URI needs a scheme" hwca_pin key show --key /x

# A missing token: exit 3, listing the tokens present.
expect_fail 3 "no token in $SOFTHSM_MODULE matches the URI (tokens present: '$TOKEN')" \
  hwca_pin key show --key 'pkcs11:token=nosuch;object=present'
msg=${LAST_ERR#hwca: }
expect_fail 3 "tokens present: '$TOKEN'" hwca_pin key list --token 'pkcs11:token=nosuch'
expect_fail 3 "tokens present: '$TOKEN'" hwca_pin key generate --key 'pkcs11:token=nosuch;object=n'
expect_ossl_fail "$msg" ossl req -new -config "$OSSL_CNF" \
  -key 'pkcs11:token=nosuch;object=present' -passin "file:$PIN_FILE" -subj /CN=x -out x.csr

# A missing key: exit 3.
expect_fail 3 "no private key object=nosuch in token '$TOKEN'" \
  hwca_pin key show --key "$(key_uri nosuch)"
msg=${LAST_ERR#hwca: }
expect_ossl_fail "$msg" ossl req -new -config "$OSSL_CNF" -key "$(key_uri_pin nosuch)" \
  -subj /CN=x -out x.csr
openssl req -x509 -config "$OSSL_CNF" -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout other.key -subj /CN=other -days 1 -out other.pem 2>/dev/null
openssl req -new -config "$OSSL_CNF" -key other.key -subj /CN=leaf -out leaf.csr
expect_ossl_fail "$msg" ossl x509 -req -in leaf.csr -CA other.pem -CAkey "$(key_uri_pin nosuch)" \
  -out leaf.pem
expect_fail 3 "no private key id=0102 (hex) in token '$TOKEN'" \
  hwca_pin key show --key "pkcs11:token=$TOKEN;id=%01%02"

# A URI that names the token but no key.
expect_fail 2 "the URI names no key" hwca_pin key show --key "pkcs11:token=$TOKEN"
echo "ok: bad URIs, unknown schemes, missing tokens and keys are reported by hwca and openssl"
