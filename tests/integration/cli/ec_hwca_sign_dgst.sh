#!/usr/bin/env bash
# `openssl dgst -sign` and `openssl pkeyutl -sign` with EC token keys through the hwca
# provider; the signatures verify with stock openssl and the exported public key.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

head -c 100000 /dev/urandom >data.bin
printf 'tampered' >>tampered.bin
cat data.bin >>tampered.bin

for type in ec-p256 ec-p384; do
  label=sig-$type
  gen_key "$type" "$label"
  # The public key: exported through the provider, and as `hwca key show` prints it.
  ossl pkey -in "$(key_uri_pin "$label")" -pubout -out "$label.pub"
  [[ $(pub_digest <"$label.pub") == "$(show_pem_digest "$(key_uri "$label")")" ]] ||
    fail "$label: openssl pkey -pubout and hwca key show disagree"

  for md in sha256 sha384 sha512; do
    ossl dgst "-$md" -sign "$(key_uri_pin "$label")" -out "$label.$md.sig" data.bin
    out=$(openssl dgst "-$md" -verify "$label.pub" -signature "$label.$md.sig" data.bin)
    [[ $out == "Verified OK" ]] || fail "$label dgst -$md: $out"
    ! openssl dgst "-$md" -verify "$label.pub" -signature "$label.$md.sig" tampered.bin \
      >/dev/null 2>&1 || fail "$label: a signature verifies over other data"
    # A DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs).
    asn1=$(openssl asn1parse -inform DER -in "$label.$md.sig")
    [[ $(grep -c 'INTEGER' <<<"$asn1") == 2 ]] || fail "$label: not an ECDSA-Sig-Value: $asn1"
  done

  # pkeyutl over the message (-rawin) and over a precomputed SHA-384 hash.
  ossl pkeyutl -sign -inkey "$(key_uri_pin "$label")" -rawin -digest sha256 -in data.bin \
    -out "$label.raw.sig"
  openssl pkeyutl -verify -pubin -inkey "$label.pub" -rawin -digest sha256 -in data.bin \
    -sigfile "$label.raw.sig" >/dev/null || fail "$label: pkeyutl -rawin signature rejected"
  openssl dgst -sha384 -binary -out data.sha384 data.bin
  ossl pkeyutl -sign -inkey "$(key_uri_pin "$label")" -pkeyopt digest:sha384 -in data.sha384 \
    -out "$label.hash.sig"
  out=$(openssl dgst -sha384 -verify "$label.pub" -signature "$label.hash.sig" data.bin)
  [[ $out == "Verified OK" ]] || fail "$label pkeyutl over a hash: $out"
done
echo "ok: EC token keys sign with openssl dgst and pkeyutl"
