#!/usr/bin/env bash
# Cross-check with another implementation: certificate chains whose CA key is in the token
# (EC P-256 with ECDSA, RSA-3072 with RSA-PSS), signed by openssl through the hwca provider,
# verify with GnuTLS's certtool.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need certtool

PSS=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest)

certtool_verify() { # CA LEAF EXPECTED-SIGNATURE-ALGORITHM
  local out
  out=$(certtool --verify --load-ca-certificate "$1" --infile "$2" 2>&1) ||
    fail "certtool rejects $2 under $1: $out"
  assert_contains "$out" "Chain verification output: Verified. The certificate is trusted." \
    "certtool $2"
  assert_contains "$out" "Signature algorithm: $3" "certtool $2"
}

gen_key ec-p256 gnutls-ec
make_ca gnutls-ec ec-ca.pem -sha384
issue_leaf gnutls-ec ec-ca.pem ec-leaf.pem -sha256
certtool_verify ec-ca.pem ec-leaf.pem ECDSA-SHA256
certtool_verify ec-ca.pem ec-ca.pem ECDSA-SHA384

gen_key rsa-3072 gnutls-rsa
make_ca gnutls-rsa rsa-ca.pem -sha256 "${PSS[@]}"
issue_leaf gnutls-rsa rsa-ca.pem rsa-leaf.pem -sha384 "${PSS[@]}"
certtool_verify rsa-ca.pem rsa-leaf.pem RSA-PSS-SHA384
certtool_verify rsa-ca.pem rsa-ca.pem RSA-PSS-SHA256

# A three-level chain: the RSA CA certifies the EC key as an intermediate CA, which then
# issues a leaf.
ossl req -new -config "$OSSL_CNF" -key "$(key_uri_pin gnutls-ec)" -subj /CN=intermediate \
  -out inter.csr
ossl x509 -req -in inter.csr -CA rsa-ca.pem -CAkey "$(key_uri_pin gnutls-rsa)" "${PSS[@]}" \
  -set_serial 3 -days 1 -extfile "$OSSL_CNF" -extensions v3_ca -out inter.pem
ossl x509 -req -in ec-leaf.pem.csr -CA inter.pem -CAkey "$(key_uri_pin gnutls-ec)" \
  -set_serial 4 -days 1 -extfile "$OSSL_CNF" -extensions v3_leaf -out leaf2.pem
cat leaf2.pem inter.pem >chain.pem
out=$(certtool --verify --load-ca-certificate rsa-ca.pem --infile chain.pem 2>&1) ||
  fail "certtool rejects the three-level chain: $out"
assert_contains "$out" "Chain verification output: Verified." "three-level chain"
out=$(openssl verify -CAfile rsa-ca.pem -untrusted inter.pem leaf2.pem 2>&1) ||
  fail "openssl rejects the three-level chain: $out"

# The check can fail: certtool rejects a leaf under the wrong CA.
! certtool --verify --load-ca-certificate rsa-ca.pem --infile ec-leaf.pem >/dev/null 2>&1 ||
  fail "certtool accepts a leaf under the wrong CA"
echo "ok: GnuTLS verifies chains signed with token keys (ECDSA, RSA-PSS)"
