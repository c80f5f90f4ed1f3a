#!/usr/bin/env bash
# `openssl dgst -sign` and `openssl pkeyutl -sign` with an RSA token key through the hwca
# provider (PKCS#1 v1.5 and PSS); the signatures verify with stock openssl and the exported
# public key.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

head -c 100000 /dev/urandom >data.bin
printf 'tampered' >>tampered.bin
cat data.bin >>tampered.bin
PSS=(-sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest)

label=sig-rsa
gen_key rsa-2048 "$label"
key=$(key_uri_pin "$label")
ossl pkey -in "$key" -pubout -out "$label.pub"
[[ $(pub_digest <"$label.pub") == "$(show_pem_digest "$(key_uri "$label")")" ]] ||
  fail "openssl pkey -pubout and hwca key show disagree"

for md in sha256 sha384 sha512; do
  ossl dgst "-$md" -sign "$key" -out "pkcs1.$md.sig" data.bin
  out=$(openssl dgst "-$md" -verify "$label.pub" -signature "pkcs1.$md.sig" data.bin)
  [[ $out == "Verified OK" ]] || fail "PKCS#1 dgst -$md: $out"
  ! openssl dgst "-$md" -verify "$label.pub" -signature "pkcs1.$md.sig" tampered.bin \
    >/dev/null 2>&1 || fail "a signature verifies over other data"
  # PKCS#1 v1.5 is deterministic: openssl's own check of the DigestInfo passes.
  openssl pkeyutl -verifyrecover -pubin -inkey "$label.pub" -in "pkcs1.$md.sig" \
    -pkeyopt rsa_padding_mode:pkcs1 -out "pkcs1.$md.di" 2>/dev/null ||
    fail "cannot recover the DigestInfo of pkcs1.$md.sig"
  assert_contains "$(openssl asn1parse -inform DER -in "pkcs1.$md.di")" ":$md" "DigestInfo"

  ossl dgst "-$md" -sign "$key" "${PSS[@]}" -out "pss.$md.sig" data.bin
  out=$(openssl dgst "-$md" -verify "$label.pub" "${PSS[@]}" -signature "pss.$md.sig" data.bin)
  [[ $out == "Verified OK" ]] || fail "PSS dgst -$md: $out"
  ! openssl dgst "-$md" -verify "$label.pub" -signature "pss.$md.sig" data.bin \
    >/dev/null 2>&1 || fail "a PSS signature verifies as PKCS#1 v1.5"
done

# pkeyutl over the message (-rawin) and over a precomputed SHA-256 hash, with PSS too.
ossl pkeyutl -sign -inkey "$key" -rawin -digest sha256 -in data.bin -out raw.sig
openssl pkeyutl -verify -pubin -inkey "$label.pub" -rawin -digest sha256 -in data.bin \
  -sigfile raw.sig >/dev/null || fail "pkeyutl -rawin signature rejected"
openssl dgst -sha256 -binary -out data.sha256 data.bin
ossl pkeyutl -sign -inkey "$key" -pkeyopt digest:sha256 -in data.sha256 -out hash.sig
out=$(openssl dgst -sha256 -verify "$label.pub" -signature hash.sig data.bin)
[[ $out == "Verified OK" ]] || fail "pkeyutl over a hash: $out"
ossl pkeyutl -sign -inkey "$key" -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss \
  -pkeyopt rsa_pss_saltlen:digest -in data.sha256 -out hash-pss.sig
out=$(openssl dgst -sha256 -verify "$label.pub" "${PSS[@]}" -signature hash-pss.sig data.bin)
[[ $out == "Verified OK" ]] || fail "pkeyutl PSS over a hash: $out"
echo "ok: an RSA token key signs with openssl dgst and pkeyutl (PKCS#1 v1.5 and PSS)"
