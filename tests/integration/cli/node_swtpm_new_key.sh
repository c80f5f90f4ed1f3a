#!/usr/bin/env bash
# A node key revoked as compromised, with the key in a swtpm of the script's own, against
# `hwca serve` (a root CA, ec-p256, in a SoftHSM2 token):
#  1. enroll, then renew --force twice (the same TPM key): `hwca cert show` names each
#     certificate's lineage ("renewed from", "renewed into").
#  2. `hwca revoke --with-renewals FIRST --reason keyCompromise` revokes the three, each
#     audited as cert.revoked, and says how many.
#  3. the key is never certified again: enroll with a new token (without --new-key) is refused
#     (403 "compromised"), nothing changes and the token stays valid; `hwca sign` of a request
#     for that key (signed in the TPM by tpm2-openssl) is refused with exit 2.
#  4. enroll --new-key with that token: a new key in the TPM replaces the key file (mode
#     0600) and the certificate is for it; renew works with it.
#  5. --new-key for a key at a persistent handle is refused before anything; --new-key that
#     the server refuses (a spent token) leaves the key and certificate as they were.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"  # HWCA_HOME=$WORK/home
# shellcheck source=est_lib.sh
source "$here/est_lib.sh"
: "${HWCA_NODE_BIN:?HWCA_NODE_BIN must name the hwca-node binary}"
[[ -x $HWCA_NODE_BIN ]] || fail "HWCA_NODE_BIN=$HWCA_NODE_BIN is not executable"
need jq sha256sum
exec {xtrace_fd}>&2
BASH_XTRACEFD=$xtrace_fd

AUDIT=$HWCA_HOME/audit.log
ROOT=$HWCA_HOME/cas/root/cert.pem

trap est_node_exit EXIT
# shellcheck source=swtpm_lib.sh
source "$here/swtpm_lib.sh"

# est_lib.sh has node, refused_by, new_token_file, token_state, cert_field...
new_token() { new_token_file "$1" worker-1 --ttl 30m; }
enroll() {
  node enroll --server "$SERVER" --ca-cert "$ROOT" --node-name worker-1 --key "${KEY:-$KEY_URI}" \
    --cert-out "$CERT" "$@"
}
renew() { node renew --server "$SERVER" --ca-cert "$ROOT" --key "$KEY_URI" --cert "$CERT" --force; }

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 \
  --subject "/CN=hwca new-key test root/O=hwca" >/dev/null
# shellcheck disable=SC2119
est_serve_start
SERVER=https://localhost:$PORT
swtpm_start node
export HWCA_TCTI=$SWTPM_TCTI
NODE=$WORK/node
mkdir -m 700 "$NODE"
KEYFILE=$NODE/kubelet.tpmkey
KEY_URI=tpm2:file=$KEYFILE
CERT=$NODE/kubelet.pem
mkdir -m 700 tok

# --- 1. enroll and renew twice: the lineage -------------------------------------------------

new_token tok/t1
enroll --bootstrap-token-file tok/t1
[[ $RC == 0 ]] || fail "hwca-node enroll exited $RC: $ERR"
S1=$(serial_of "$CERT")
OLD_PUB=$(pub_of_tpmkey "$KEYFILE")
renew
[[ $RC == 0 ]] || fail "renew --force exited $RC: $ERR"
S2=$(serial_of "$CERT")
renew
[[ $RC == 0 ]] || fail "the second renew --force exited $RC: $ERR"
S3=$(serial_of "$CERT")
[[ $S1 != "$S2" && $S2 != "$S3" ]] || fail "renewals kept a serial: $S1 $S2 $S3"
[[ -z $(cert_field "$S1" "renewed from") ]] || fail "the first certificate shows a renewal source"
[[ $(cert_field "$S1" "renewed into") == "$S2" ]] || fail "cert show $S1: renewed into '$(cert_field "$S1" "renewed into")'"
[[ $(cert_field "$S2" "renewed from") == "$S1" ]] || fail "cert show $S2: renewed from '$(cert_field "$S2" "renewed from")'"
[[ $(cert_field "$S2" "renewed into") == "$S3" ]] || fail "cert show $S2: renewed into '$(cert_field "$S2" "renewed into")'"
[[ $(cert_field "$S3" "renewed from") == "$S2" ]] || fail "cert show $S3: renewed from '$(cert_field "$S3" "renewed from")'"
[[ -z $(cert_field "$S3" "renewed into") ]] || fail "the last certificate shows a renewal"
key_sha=$(cert_field "$S1" "key sha256")
[[ $key_sha == "$OLD_PUB" && $(cert_field "$S3" "key sha256") == "$OLD_PUB" ]] ||
  fail "cert show: key sha256 '$key_sha', the TPM key's SPKI digest is $OLD_PUB"

# --- 2. revoke the first with its renewals -------------------------------------------------------

revoked_before=$(grep -cF '"event":"cert.revoked"' "$AUDIT" || true)
out=$(hwca revoke --ca root --reason keyCompromise --with-renewals "$S1")
assert_contains "$out" "3 certificate(s) revoked: 2 issued by renewal from $S1" "revoke --with-renewals"
for s in "$S1" "$S2" "$S3"; do
  assert_contains "$out" "revoked $s (keyCompromise)" "revoke --with-renewals"
  [[ $(cert_field "$s" status) == revoked ]] || fail "$s is $(cert_field "$s" status) after revoke --with-renewals"
  grep -F '"event":"cert.revoked"' "$AUDIT" | grep -qF "\"serial\":\"$s\"" ||
    fail "the revocation of $s is not audited"
done
(($(grep -cF '"event":"cert.revoked"' "$AUDIT") == revoked_before + 3)) || fail "not 3 cert.revoked lines"
expect_fail 6 "already revoked" hwca revoke --ca root --with-renewals "$S2"

# --- 3. the compromised key is refused -------------------------------------------------------------

new_token tok/t2
T2_ID=$TOKEN_ID
before=$(node_dir_state)
enroll --bootstrap-token-file tok/t2
refused_by 2 "EST simpleenroll refused (403): the request's public key" "re-enrollment with the compromised key"
[[ $ERR == *"revoked for keyCompromise"* ]] || fail "the refusal does not say why: $ERR"
COMPROMISED_MSG=$ERR
[[ $(node_dir_state) == "$before" ]] || fail "a refused enrollment changed the node's files"
[[ $(token_state "$T2_ID") == valid ]] || fail "the refused enrollment spent the token"
# hwca sign: a request for the TPM key, signed in the TPM by tpm2-openssl.
openssl req -provider tpm2 -provider default -new -key "$KEYFILE" -subj "/CN=tpm.example" \
  -out tpm.csr 2>"$WORK/req.err" || fail "tpm2-openssl cannot make a request: $(cat "$WORK/req.err")"
expect_fail 2 "revoked for keyCompromise" hwca_pin sign --ca root --profile client --csr tpm.csr --out tpm.pem
SIGN_MSG=$LAST_ERR
[[ ! -e tpm.pem ]] || fail "hwca sign wrote a certificate for the compromised key"

# --- 5a. --new-key needs a key file ------------------------------------------------------------------

before=$(node_dir_state)
KEY=tpm2:handle=0x81000100 enroll --bootstrap-token-file tok/t2 --new-key
refused_by 2 "--new-key replaces a TPM key file" "--new-key with a persistent handle"
HANDLE_MSG=$ERR
[[ $(node_dir_state) == "$before" && $(token_state "$T2_ID") == valid ]] ||
  fail "--new-key with a handle changed something"

# --- 4. enroll --new-key ---------------------------------------------------------------------------

keysum=$(sum_of "$KEYFILE")
enroll --bootstrap-token-file tok/t2 --new-key
[[ $RC == 0 && -z $ERR ]] || fail "enroll --new-key exited $RC: $ERR"
assert_contains "$OUT" "(new key made in the TPM, replacing the old one: $KEY_URI)" "enroll --new-key"
[[ $(sum_of "$KEYFILE") != "$keysum" ]] || fail "enroll --new-key kept the key file"
[[ $(stat -c %a "$KEYFILE") == 600 ]] || fail "the new key file is mode $(stat -c %a "$KEYFILE")"
NEW_PUB=$(pub_of_tpmkey "$KEYFILE")
[[ $NEW_PUB != "$OLD_PUB" ]] || fail "enroll --new-key kept the public key"
[[ $(pub_of_cert "$CERT") == "$NEW_PUB" ]] || fail "the new certificate is not for the new TPM key"
S4=$(serial_of "$CERT")
[[ $(token_state "$T2_ID") == used ]] || fail "the token is $(token_state "$T2_ID") after enroll --new-key"
[[ -z $(find "$NODE" -name '.*.new') ]] || fail "staged files left: $(find "$NODE" -name '.*.new')"
renew
[[ $RC == 0 ]] || fail "renew with the new key exited $RC: $ERR"
[[ $(cert_field "$(serial_of "$CERT")" "renewed from") == "$S4" ]] || fail "the renewal of $S4 is not in its lineage"

# --- 5b. --new-key refused by the server: nothing changes -------------------------------------------

before=$(node_dir_state)
enroll --bootstrap-token-file tok/t2 --new-key
refused_by 4 "EST simpleenroll refused (401)" "--new-key with a spent token"
[[ $(node_dir_state) == "$before" ]] || fail "a refused --new-key changed the node's files"
[[ $(pub_of_tpmkey "$KEYFILE") == "$NEW_PUB" ]] || fail "a refused --new-key changed the key"

out=$(hwca audit verify)
assert_contains "$out" "the hash chain is intact" "audit verify"
cat <<EOF
  compromised key (enroll): $COMPROMISED_MSG
  compromised key (sign):   $SIGN_MSG
  --new-key with a handle:  $HANDLE_MSG
EOF
echo "ok: lineage shown, revoked with its renewals, the compromised key refused, --new-key replaced it"
