#!/usr/bin/env bash
# `hwca key generate` refusals: a label or id that exists (6), an unknown key type (2), a
# URI without object= (2), and a token that lacks the key-generation mechanism (5, naming
# the mechanism).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

gen_key ec-p256 taken
id=$(hwca_pin key show --key "$(key_uri taken)" | sed -n 's/^id: *//p')

expect_fail 6 "a key labelled 'taken' already exists in token '$TOKEN'" \
  hwca_pin key generate --key "$(key_uri taken)" --type rsa-2048
assert_contains "$LAST_ERR" "choose another object= label" "existing label"
# shellcheck disable=SC2001
pct_id=$(sed 's/../%&/g' <<<"$id")
expect_fail 6 "a key with id $id already exists in token '$TOKEN'" \
  hwca_pin key generate --key "$(key_uri fresh);id=$pct_id"
expect_fail 2 "unknown key type 'ec-p521' (expected ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096)" \
  hwca_pin key generate --key "$(key_uri fresh)" --type ec-p521
expect_fail 2 "unknown key type 'RSA-2048'" hwca_pin key generate --key "$(key_uri fresh)" --type RSA-2048
expect_fail 2 "the URI must name the new key with object=LABEL" \
  hwca_pin key generate --key "pkcs11:token=$TOKEN" --type ec-p256
expect_fail 2 "drop type=public" hwca_pin key generate --key "$(key_uri fresh);type=public"
# None of the refused requests left a key behind.
list=$(hwca_pin key list --token "pkcs11:token=$TOKEN")
[[ $(grep -c 'pkcs11:' <<<"$list") == 1 ]] || fail "refused requests created keys: $list"

# A token without the key-generation mechanism.
# SoftHSM 2.6.1 cannot be made to refuse one: "slots.mechanisms = -CKM_EC_KEY_PAIR_GEN" has
# no effect at all, and a positive list only trims C_GetMechanismList, while
# C_GetMechanismInfo and C_GenerateKeyPair still accept CKM_EC_KEY_PAIR_GEN. So this uses a
# real module that has no key-generation mechanisms, p11-kit's trust module (no PIN).
# p11-kit-trust prints its own warning ("p11-kit: shouldn't be reached at
# sys_C_GetMechanismInfo") when asked about a mechanism it does not list; that line is not
# hwca's and is left out of the one-line check.
write_softhsm_conf no-ec.conf "slots.mechanisms = -CKM_EC_KEY_PAIR_GEN"
rc=0
SOFTHSM2_CONF=$PWD/no-ec.conf "$HWCA_BIN" --pin-source "file:$PIN_FILE" key generate \
  --key "$(key_uri no-ec)" >no-ec.out 2>no-ec.err || rc=$?
cat no-ec.err >>"$STDERR_LOG"
if [[ $rc == 0 ]]; then
  echo "note: SoftHSM ignored slots.mechanisms (known for 2.6.1); using p11-kit-trust" >&2
else
  [[ $rc == 5 ]] || fail "a token without CKM_EC_KEY_PAIR_GEN: exit $rc: $(cat no-ec.err)"
  assert_contains "$(cat no-ec.err)" "no CKM_EC_KEY_PAIR_GEN" "key generate without the mechanism"
fi

trust=$(find_lib p11-kit-trust.so)
if [[ -z $trust ]] || ! tokens=$("$HWCA_BIN" --module "$trust" token list 2>/dev/null); then
  skip "p11-kit-trust.so (a token without key generation) is not available"
fi
label=$(sed -n "1s/^token '\\(.*\\)'\$/\\1/p" <<<"$tokens")
[[ -n $label ]] || skip "p11-kit-trust.so offers no token"
token_uri="pkcs11:token=$(uri_escape "$label" | sed 's|/|%2F|g')"
export EXPECT_FAIL_IGNORE='^p11-kit: '
expect_fail 5 "token '$label' (serial " \
  hwca --module "$trust" key generate --key "$token_uri;object=x" --type ec-p256
assert_contains "$LAST_ERR" "cannot generate ec-p256 keys (no CKM_EC_KEY_PAIR_GEN)" "trust token"
expect_fail 5 "cannot generate rsa-3072 keys (no CKM_RSA_PKCS_KEY_PAIR_GEN)" \
  hwca --module "$trust" key generate --key "$token_uri;object=x" --type rsa-3072
echo "ok: key generate refuses taken labels/ids, unknown types and missing mechanisms"
