#!/usr/bin/env bash
# Keys made by another tool (opensc's pkcs11-tool --keypairgen, EC P-256 and RSA-2048) work
# with the provider (a CSR that verifies) and with `hwca key show` / `hwca key list`.
# pkcs11-tool does not force keys non-extractable, so only type, size, label and id are
# checked.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need pkcs11-tool

p11tool_gen() { # LABEL ID KEY-TYPE
  _logged pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$TOKEN" --login --pin "$PIN" \
    --keypairgen --key-type "$3" --label "$1" --id "$2" >/dev/null
}
p11tool_gen tool-ec 0a01 EC:prime256v1
p11tool_gen tool-rsa 0a02 rsa:2048

for spec in tool-ec:0a01:ec-p256:256 tool-rsa:0a02:rsa-2048:2048; do
  IFS=: read -r label id type bits <<<"$spec"
  # hwca key show, by label and by id.
  for uri in "$(key_uri "$label")" "pkcs11:token=$TOKEN;id=%${id:0:2}%${id:2:2}"; do
    out=$(hwca_pin key show --key "$uri")
    assert_contains "$out" "label:              $label" "key show $uri"
    assert_contains "$out" "id:                 $id" "key show $uri"
    assert_contains "$out" "type:               $type ($bits bits)" "key show $uri"
    uid=${id^^}
    assert_contains "$out" "token=$TOKEN;object=$label;id=%${uid:0:2}%${uid:2:2}" "key show $uri"
  done
  # The public key hwca shows is the one pkcs11-tool reads from the token.
  pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$TOKEN" --read-object --type pubkey \
    --id "$id" -o "$label.pub.der" 2>/dev/null
  tool_key=$(openssl pkey -pubin -inform DER -in "$label.pub.der" -pubout | pub_digest)
  [[ $tool_key == "$(show_pem_digest "$(key_uri "$label")")" ]] ||
    fail "$label: hwca key show prints another public key than pkcs11-tool reads"

  # A CSR through the provider; -passin instead of a pin-source.
  ossl req -new -config "$OSSL_CNF" -key "$(key_uri "$label")" -passin "file:$PIN_FILE" \
    -subj "/CN=$label" -out "$label.csr"
  csr_verifies "$label.csr"
  [[ $(openssl req -in "$label.csr" -pubkey -noout | pub_digest) == "$tool_key" ]] ||
    fail "$label: the CSR carries another public key"
done

# hwca key list shows both, with their types and URIs.
list=$(hwca_pin key list --token "pkcs11:token=$TOKEN")
grep -qE "^tool-ec +ec-p256 +pkcs11:.*token=$TOKEN;object=tool-ec;id=%0A%01$" <<<"$list" ||
  fail "key list lacks tool-ec: $list"
grep -qE "^tool-rsa +rsa-2048 +pkcs11:.*token=$TOKEN;object=tool-rsa;id=%0A%02$" <<<"$list" ||
  fail "key list lacks tool-rsa: $list"
[[ $(grep -c 'pkcs11:' <<<"$list") == 2 ]] || fail "key list shows other keys: $list"
# Two keys with one label (hwca refuses to make that, pkcs11-tool does not): exit 6, and
# id= (as suggested) picks one.
p11tool_gen tool-ec 0a03 EC:prime256v1
expect_fail 6 "2 private keys match object=tool-ec in token '$TOKEN'" \
  hwca_pin key show --key "$(key_uri tool-ec)"
assert_contains "$LAST_ERR" "add id= to choose one" "two keys, one label"
expect_ossl_fail "${LAST_ERR#hwca: }" ossl req -new -config "$OSSL_CNF" \
  -key "$(key_uri_pin tool-ec)" -subj /CN=x -out x.csr
out=$(hwca_pin key show --key "$(key_uri tool-ec);id=%0A%03")
assert_contains "$out" "id:                 0a03" "key show by label and id"
echo "ok: keys made by pkcs11-tool work with the provider and with hwca key show/list"
