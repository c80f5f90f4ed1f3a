#!/usr/bin/env bash
# The ways a PIN reaches the token when openssl signs through the provider: -passin (the
# provider asks through OpenSSL's passphrase callback) with no pin-source in the URI,
# ?pin-source=file:... in the URI, and a pin-source key in the provider's openssl.cnf
# section; and for the hwca command: --pin-source env:/file:, $HWCA_PIN_SOURCE, the URI's.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

gen_key ec-p256 pin-ec
gen_key rsa-2048 pin-rsa
export HWCA_TEST_PIN=$PIN
(umask 077 && printf '%s\n' "$WRONG_PIN" >wrong-pin)

for label in pin-ec pin-rsa; do
  # 1. -passin, no pin-source in the URI: file: and env: forms.
  ossl req -new -config "$OSSL_CNF" -key "$(key_uri "$label")" -passin "file:$PIN_FILE" \
    -subj /CN=passin -out "$label-passin.csr"
  csr_verifies "$label-passin.csr"
  ossl req -x509 -config "$OSSL_CNF" -key "$(key_uri "$label")" -passin env:HWCA_TEST_PIN \
    -subj "/CN=$label CA" -days 1 -out "$label-ca.pem"
  openssl verify -CAfile "$label-ca.pem" "$label-ca.pem" >/dev/null || fail "$label-ca.pem"
  ossl x509 -req -in "$label-passin.csr" -CA "$label-ca.pem" -CAkey "$(key_uri "$label")" \
    -passin "file:$PIN_FILE" -set_serial 7 -days 1 -out "$label-leaf.pem"
  out=$(openssl verify -CAfile "$label-ca.pem" "$label-leaf.pem") || fail "$label leaf: $out"

  # 2. ?pin-source=file:... in the URI and no -passin.
  ossl req -new -config "$OSSL_CNF" -key "$(key_uri_pin "$label")" -subj /CN=uri \
    -out "$label-uri.csr" </dev/null
  csr_verifies "$label-uri.csr"
  # The URI's pin-source is used before OpenSSL's passphrase callback (-passin is wrong).
  ossl req -new -config "$OSSL_CNF" -key "$(key_uri_pin "$label")" -passin file:wrong-pin \
    -subj /CN=uri -out "$label-uri2.csr"
  csr_verifies "$label-uri2.csr"
done

# 3. pin-source in the provider's openssl.cnf section (no -passin, nothing in the URI).
provider_cnf provider.cnf "pin-source=file:$PIN_FILE"
OPENSSL_CONF=$PWD/provider.cnf _logged openssl req -new -key "$(key_uri pin-ec)" \
  -subj /CN=cnf -out cnf.csr </dev/null
csr_verifies cnf.csr

# 4. The hwca command: every PIN source it takes gives the same key.
want=$(show_pem_digest "$(key_uri pin-rsa)")
show() { "$@" | sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' | pub_digest; }
[[ $(show hwca --pin-source env:HWCA_TEST_PIN key show --key "$(key_uri pin-rsa)") == "$want" ]] ||
  fail "--pin-source env: gives another key"
[[ $(HWCA_PIN_SOURCE=file:$PIN_FILE show hwca key show --key "$(key_uri pin-rsa)") == "$want" ]] ||
  fail "HWCA_PIN_SOURCE gives another key"
[[ $(show hwca key show --key "$(key_uri_pin pin-rsa)" </dev/null) == "$want" ]] ||
  fail "the URI's pin-source gives another key"
echo "ok: PINs from -passin, the URI, openssl.cnf and hwca's PIN sources all work"
