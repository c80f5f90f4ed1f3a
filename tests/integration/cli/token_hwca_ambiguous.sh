#!/usr/bin/env bash
# Two tokens (t1, t2) and a URI that does not say which: hwca refuses with exit 6, says
# "2 tokens match" and suggests serial=; openssl fails with the same text. serial= then
# picks one token.
TOKEN=t1
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
init_token t2

gen_key ec-p256 same
TOKEN=t2 gen_key ec-p256 same

for uri in 'pkcs11:object=same' 'pkcs11:manufacturer=SoftHSM%20project;object=same' \
  'pkcs11:model=SoftHSM%20v2;object=same'; do
  expect_fail 6 "2 tokens match the URI: " hwca_pin key show --key "$uri"
  assert_contains "$LAST_ERR" "add token= or serial= to choose one" "ambiguous token"
  assert_contains "$LAST_ERR" "'t1' (serial " "ambiguous token"
  assert_contains "$LAST_ERR" "'t2' (serial " "ambiguous token"
  expect_ossl_fail "${LAST_ERR#hwca: }" ossl req -new -config "$OSSL_CNF" -key "$uri?$PIN_QUERY" \
    -subj /CN=x -out x.csr
done
expect_fail 6 "2 tokens match the URI" hwca_pin key list --token 'pkcs11:'
expect_fail 6 "2 tokens match the URI" hwca_pin key generate --key 'pkcs11:object=new'

# serial= (as suggested) selects one token; each token's key is its own.
mapfile -t serials < <(hwca token list | sed -n 's/^  serial: *//p')
[[ ${#serials[@]} == 2 ]] || fail "token list shows other than two serials: ${serials[*]}"
declare -A digest
for serial in "${serials[@]}"; do
  digest[$serial]=$(show_pem_digest "pkcs11:serial=$serial;object=same")
  ossl req -new -config "$OSSL_CNF" -key "pkcs11:serial=$serial;object=same?$PIN_QUERY" \
    -subj /CN=x -out "$serial.csr"
  csr_verifies "$serial.csr"
  [[ $(openssl req -in "$serial.csr" -pubkey -noout | pub_digest) == "${digest[$serial]}" ]] ||
    fail "serial=$serial: openssl signed with another key"
done
[[ ${digest[${serials[0]}]} != "${digest[${serials[1]}]}" ]] || fail "both tokens show the same key"
echo "ok: an ambiguous token URI exits 6 and suggests serial=, which then works"
