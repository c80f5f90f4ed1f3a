#!/usr/bin/env bash
# TPM attestation end to end: hwca-node against the real `hwca serve` (a root CA, ec-p256, in
# a SoftHSM2 token), with two swtpms of the script's own, A and B, made by swtpm_setup with
# EK certificates (the swtpm-localca chain):
#  1. `hwca ek-roots add` the swtpm-localca root and intermediate; `hwca-node ek show --out`
#     writes A's RSA EK certificate and `hwca node register --name worker-1 --ek-cert` takes it.
#  2. `enroll --attest --node-name worker-1`, no token: the certificate verifies against the
#     CA, is for CN=system:node:worker-1 and for the TPM key (as tpm2-openssl reads it);
#     `hwca cert show` and the cert.issued audit line carry the EK SHA-256 `ek show` printed;
#     `hwca audit verify` passes. The HWCA_NODE_STATS=1 line is printed, not checked.
#  3. a bootstrap token of worker-1 (a node with a registered TPM) is refused (403
#     attestation_required, exit 2), counted and audited, and stays valid; nothing is issued.
#  4. B's TPM (its RSA EK registered as worker-2) enrolling as worker-1 is refused (403
#     ek_not_registered, exit 2), counted; nothing is issued.
#  5. B after `hwca node unregister worker-2`, as worker-2, is refused the same way.
#  6. `renew --new-key` on A: a new key file, a certificate for the new key whose `cert show`
#     has the lineage (renewed from the first) and the attestation; `renew --force` (same
#     key) still works and has the lineage but no attestation.
#  7. B's P-384 EK (`ek show --ek ecc`) registered as worker-3: `enroll --attest --ek ecc`
#     from B's TPM succeeds, attested with that EK.
#  8. `hwca serve --require-attestation` (restarted): a bootstrap token of a node without a
#     registered TPM is refused (403 attestation_required, exit 2) and stays valid;
#     attestation still works.
#  9. with the EK roots removed, B's RSA EK registered as worker-2, then an unrelated root
#     added: worker-2's attestation is refused (403 ek_untrusted, exit 2), nothing issued;
#     with the swtpm-localca roots back it goes through. (An untrusted EK certificate that
#     cannot be registered: node_hwca_registry.sh.)
# Every refusal: exit code, one "hwca-node: " line with the server's reason, the reason's
# counter in /metrics, no certificate file written, `hwca cert list` unchanged.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"  # HWCA_HOME=$WORK/home
# shellcheck source=est_lib.sh
source "$here/est_lib.sh"
: "${HWCA_NODE_BIN:?HWCA_NODE_BIN must name the hwca-node binary}"
[[ -x $HWCA_NODE_BIN ]] || fail "HWCA_NODE_BIN=$HWCA_NODE_BIN is not executable"
need jq curl sha256sum
exec {xtrace_fd}>&2
BASH_XTRACEFD=$xtrace_fd
T_START=$SECONDS

AUDIT=$HWCA_HOME/audit.log
ROOT=$HWCA_HOME/cas/root/cert.pem

trap est_node_exit EXIT
# shellcheck source=swtpm_lib.sh
source "$here/swtpm_lib.sh"

# use_tpm A|B: hwca-node, tpm2-openssl and tpm2-tools talk to that swtpm.
declare -A TCTI=()
use_tpm() {
  export HWCA_TCTI=${TCTI[$1]} TPM2OPENSSL_TCTI=${TCTI[$1]} TPM2TOOLS_TCTI=${TCTI[$1]}
}
# attest NODE CERT-OUT KEYFILE [enroll options...]: enroll --attest as NODE.
attest() {
  local name=$1 out=$2 keyfile=$3
  shift 3
  node enroll --server "$SERVER" --ca-cert "$ROOT" --node-name "$name" --key "tpm2:file=$keyfile" \
    --cert-out "$out" --attest "$@"
}
issued_count() { hwca cert list --ca root | wc -l; }
# refused_attest CODE TEXT REASON WHAT CERT-OUT: the last hwca-node run was refused so, the
# server counted REASON once more, nothing was issued and CERT-OUT was not written.
refused_attest() {
  local code=$1 text=$2 reason=$3 what=$4 out=$5
  refused_by "$code" "$text" "$what"
  local n
  n=$(est_rejected "$reason")
  ((n == REJECTED_BEFORE + 1)) ||
    fail "$what: hwca_est_rejected_total{reason=\"$reason\"} is $n, expected $((REJECTED_BEFORE + 1))"
  [[ $(issued_count) == "$ISSUED_BEFORE" ]] || fail "$what: a certificate was issued"
  [[ ! -e $out ]] || fail "$what: $out was written"
}
# before REASON: note the counter of REASON and the certificates issued so far.
before() { REJECTED_BEFORE=$(est_rejected "$1") ISSUED_BEFORE=$(issued_count); }
# attested_by SERIAL EK-SHA256 WHAT: `hwca cert show` and the cert.issued line name that EK.
attested_by() {
  local shown
  shown=$(cert_field "$1" attested)
  [[ $shown =~ ^EK\ sha256\ $2,\ AK\ name\ 000b[0-9a-f]{64},\ key\ name\ 000b[0-9a-f]{64}$ ]] ||
    fail "$3: cert show $1: attested '$shown', expected EK sha256 $2"
  audited "$1" kubelet-client
  [[ $AUDITED == *"\"ek_sha256\":\"$2\""* ]] || fail "$3: the cert.issued line lacks ek_sha256 $2: $AUDITED"
}
# enrolled_line WHAT KEY-NOTE CERT-OUT: the last run succeeded silently with the line of an
# attested enrollment (KEY-NOTE, an ERE, what it says of the key) naming CERT-OUT's serial;
# LINE_EK: the start of the EK SHA-256 it names.
enrolled_line() {
  [[ $RC == 0 && -z $ERR ]] || fail "$1 exited $RC: $ERR"
  local re="^(enrolled|renewed) node '[a-z0-9-]+': certificate [0-9a-f]+ until [0-9T:-]+Z "
  re+="in $3 \\($2\\) \\(attested: EK sha256 [0-9a-f]{16}\\.\\.\\.\\)$"
  [[ $OUT =~ $re ]] || fail "$1 printed: $OUT"
  [[ $OUT =~ certificate\ ([0-9a-f]+)\ until ]] || fail "$1 printed no serial: $OUT"
  [[ ${BASH_REMATCH[1],,} == "$(serial_of "$3")" ]] ||
    fail "$1 names another serial than $3's $(serial_of "$3"): $OUT"
  [[ $OUT =~ EK\ sha256\ ([0-9a-f]{16})\.\.\.\)$ ]] && LINE_EK=${BASH_REMATCH[1]}
}
# ek_sha_of: the SHA-256 line of the last `ek show`.
ek_sha_of() { sed -n 's/^SHA-256 (SubjectPublicKeyInfo): //p' <<<"$OUT"; }

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 \
  --subject "/CN=hwca attest test root/O=hwca" >/dev/null
# shellcheck disable=SC2119
est_serve_start
SERVER=https://localhost:$PORT
# Each swtpm_setup made its own swtpm-localca: EK_ROOTS[A] is A's root and intermediate.
declare -A EK_ROOTS=()
swtpm_start a
TCTI[A]=$SWTPM_TCTI EK_ROOTS[A]="$SWTPM_EK_ROOT $SWTPM_EK_INTERMEDIATE"
swtpm_start b
TCTI[B]=$SWTPM_TCTI EK_ROOTS[B]="$SWTPM_EK_ROOT $SWTPM_EK_INTERMEDIATE"
mkdir -m 700 nodeA nodeB
KEY_A=$WORK/nodeA/kubelet.tpmkey CERT_A=$WORK/nodeA/kubelet.pem
KEY_B=$WORK/nodeB/kubelet.tpmkey
mkdir -m 700 tok

# --- 1. EK roots, ek show, register --------------------------------------------------------

# add_roots A|B: `hwca ek-roots add` that TPM's swtpm-localca root and intermediate.
add_roots() {
  local root inter out
  read -r root inter <<<"${EK_ROOTS[$1]}"
  out=$(hwca ek-roots add "$root")
  assert_contains "$out" "(anchor): CN=swtpm-localca-rootca" "ek-roots add ($1's root)"
  out=$(hwca ek-roots add "$inter")
  assert_contains "$out" "(intermediate): CN=swtpm-localca" "ek-roots add ($1's intermediate)"
}
add_roots A
add_roots B
use_tpm A
node ek show --out "$WORK/ekA.pem"
[[ $RC == 0 ]] || fail "ek show (A) exited $RC: $ERR"
EK_A=$(ek_sha_of)
[[ $EK_A =~ ^[0-9a-f]{64}$ ]] || fail "ek show (A) printed no SHA-256: $OUT"
out=$(hwca node register --name worker-1 --ek-cert "$WORK/ekA.pem")
assert_contains "$out" "registered node 'worker-1': EK certificate, SHA-256 $EK_A" "node register worker-1"

# --- 2. enroll --attest, no token ----------------------------------------------------------

HWCA_NODE_STATS=1 attest worker-1 "$CERT_A" "$KEY_A"
[[ $RC == 0 ]] || fail "enroll --attest exited $RC: $ERR"
STATS=$ERR
[[ $STATS == "hwca-node: stats: enroll --attest: "*" s, "*" TPM commands" ]] ||
  fail "HWCA_NODE_STATS=1: stderr is not the stats line: $STATS"
ERR=""
enrolled_line "enroll --attest" "key made in the TPM: tpm2:file=$KEY_A" "$CERT_A"
[[ $LINE_EK == "${EK_A:0:16}" ]] || fail "enroll --attest names EK $LINE_EK, ek show said $EK_A"
S1=$(serial_of "$CERT_A")
node_cert "$CERT_A" worker-1
PUB1=$(pub_of_tpmkey "$KEY_A")
[[ $(pub_of_cert "$CERT_A") == "$PUB1" ]] ||
  fail "the certificate's public key is not the TPM key's (as tpm2-openssl reads it)"
[[ $(cert_field "$S1" "key sha256") == "$PUB1" ]] || fail "cert show $S1: key sha256 is not the TPM key's"
attested_by "$S1" "$EK_A" "enroll --attest"
[[ $AUDITED == *'"requester":"est:worker-1 (TPM attestation, EK '"${EK_A:0:16}"')'* ]] ||
  fail "the cert.issued line does not name the attestation as requester: $AUDITED"
out=$(hwca audit verify)
assert_contains "$out" "the hash chain is intact" "audit verify"

# --- 3. worker-1's bootstrap token is refused ------------------------------------------------

new_token_file tok/w1 worker-1 --ttl 30m
W1_TOKEN=$TOKEN_ID
before attestation_required
rejected_lines=$(grep -cF '"event":"est.rejected"' "$AUDIT" || true)
node enroll --server "$SERVER" --ca-cert "$ROOT" --node-name worker-1 --key "tpm2:file=$KEY_A" \
  --cert-out "$WORK/nodeA/token.pem" --bootstrap-token-file tok/w1
refused_attest 2 "refused (403): node 'worker-1' has a registered TPM: it enrolls by TPM attestation only" \
  attestation_required "a bootstrap token of a node with a TPM" "$WORK/nodeA/token.pem"
TOKEN_MSG=$ERR
[[ $(token_state "$W1_TOKEN") == valid ]] || fail "the refused token is $(token_state "$W1_TOKEN")"
(($(grep -cF '"event":"est.rejected"' "$AUDIT") == rejected_lines + 1)) ||
  fail "the refused token (it was checked) has no est.rejected line"
grep -F '"event":"est.rejected"' "$AUDIT" | tail -n 1 | grep -qF '"reason":"attestation_required"' ||
  fail "the est.rejected line lacks reason attestation_required: $(tail -n 1 "$AUDIT")"

# --- 4. B's TPM as worker-1 ---------------------------------------------------------------------

use_tpm B
node ek show --out "$WORK/ekB.pem"
[[ $RC == 0 ]] || fail "ek show (B) exited $RC: $ERR"
EK_B=$(ek_sha_of)
[[ $EK_B =~ ^[0-9a-f]{64}$ && $EK_B != "$EK_A" ]] || fail "ek show (B): '$EK_B' (A's is $EK_A)"
hwca node register --name worker-2 --ek-cert "$WORK/ekB.pem" >/dev/null
before ek_not_registered
attest worker-1 "$WORK/nodeB/w1.pem" "$KEY_B"
refused_attest 2 "refused (403): this EK (SHA-256 $EK_B) is not the one registered for node 'worker-1'" \
  ek_not_registered "B's TPM as worker-1" "$WORK/nodeB/w1.pem"
OTHER_TPM_MSG=$ERR

# --- 5. B unregistered ------------------------------------------------------------------------

out=$(hwca node unregister worker-2)
assert_contains "$out" "unregistered node 'worker-2' (EK SHA-256 $EK_B)" "node unregister"
before ek_not_registered
attest worker-2 "$WORK/nodeB/w2.pem" "$KEY_B"
refused_attest 2 "refused (403): this EK (SHA-256 $EK_B) is not the one registered for node 'worker-2'" \
  ek_not_registered "an unregistered TPM" "$WORK/nodeB/w2.pem"
UNREGISTERED_MSG=$ERR

# --- 6. renew --new-key, then renew --force ------------------------------------------------------

use_tpm A
NODE=$WORK/nodeA
keysum=$(sum_of "$KEY_A")
node renew --server "$SERVER" --ca-cert "$ROOT" --key "tpm2:file=$KEY_A" --cert "$CERT_A" --new-key
enrolled_line "renew --new-key" "new key made in the TPM, replacing the old one: tpm2:file=$KEY_A" "$CERT_A"
S2=$(serial_of "$CERT_A")
[[ $S2 != "$S1" ]] || fail "renew --new-key kept serial $S1"
[[ $(sum_of "$KEY_A") != "$keysum" && $(stat -c %a "$KEY_A") == 600 ]] ||
  fail "renew --new-key did not replace the key file with one of mode 0600"
PUB2=$(pub_of_tpmkey "$KEY_A")
[[ $PUB2 != "$PUB1" ]] || fail "renew --new-key kept the public key"
[[ $(pub_of_cert "$CERT_A") == "$PUB2" ]] || fail "the renewed certificate is not for the new TPM key"
node_cert "$CERT_A" worker-1
[[ $(cert_field "$S2" "renewed from") == "$S1" ]] ||
  fail "cert show $S2: renewed from '$(cert_field "$S2" "renewed from")', expected $S1"
attested_by "$S2" "$EK_A" "renew --new-key"
[[ $(cert_field "$S1" attested) != "$(cert_field "$S2" attested)" ]] ||
  fail "the new key's certificate shows the old key's name"
[[ -z $(find "$NODE" -name '.*.new') ]] || fail "staged files left: $(find "$NODE" -name '.*.new')"

node renew --server "$SERVER" --ca-cert "$ROOT" --key "tpm2:file=$KEY_A" --cert "$CERT_A" --force
[[ $RC == 0 && -z $ERR ]] || fail "renew --force exited $RC: $ERR"
S3=$(serial_of "$CERT_A")
[[ $S3 != "$S2" && $(pub_of_cert "$CERT_A") == "$PUB2" ]] ||
  fail "renew --force: serial $S3 (was $S2), or not for the same key"
[[ $(cert_field "$S3" "renewed from") == "$S2" ]] ||
  fail "cert show $S3: renewed from '$(cert_field "$S3" "renewed from")', expected $S2"
[[ -z $(cert_field "$S3" attested) ]] || fail "a renewal with the same key shows an attestation"

# --- 7. the P-384 EK ---------------------------------------------------------------------------

use_tpm B
node ek show --ek ecc --out "$WORK/ekB-ecc.pem"
[[ $RC == 0 ]] || fail "ek show --ek ecc (B) exited $RC: $ERR"
[[ $OUT == *"EK: ecc-p384"* ]] || fail "ek show --ek ecc (B): not the P-384 EK: $OUT"
EK_B_ECC=$(ek_sha_of)
hwca node register --name worker-3 --ek-cert "$WORK/ekB-ecc.pem" >/dev/null
CERT_W3=$WORK/nodeB/w3.pem
attest worker-3 "$CERT_W3" "$KEY_B" --ek ecc
enrolled_line "enroll --attest --ek ecc" "key( made in the TPM:)? tpm2:file=$KEY_B" "$CERT_W3"
[[ $LINE_EK == "${EK_B_ECC:0:16}" ]] || fail "enroll --ek ecc names EK $LINE_EK, ek show said $EK_B_ECC"
node_cert "$CERT_W3" worker-3
[[ $(pub_of_cert "$CERT_W3") == "$(pub_of_tpmkey "$KEY_B")" ]] ||
  fail "worker-3's certificate is not for B's key"
attested_by "$(serial_of "$CERT_W3")" "$EK_B_ECC" "enroll --attest --ek ecc"

# --- 8. --require-attestation ------------------------------------------------------------------

est_serve_stop
est_serve_start --require-attestation
SERVER=https://localhost:$PORT
new_token_file tok/w9 worker-9 --ttl 30m
W9_TOKEN=$TOKEN_ID
before attestation_required
node enroll --server "$SERVER" --ca-cert "$ROOT" --node-name worker-9 --key "tpm2:file=$KEY_B" \
  --cert-out "$WORK/nodeB/w9.pem" --bootstrap-token-file tok/w9
refused_attest 2 "refused (403): this CA enrolls nodes by TPM attestation only" attestation_required \
  "a bootstrap token under --require-attestation" "$WORK/nodeB/w9.pem"
REQUIRE_MSG=$ERR
[[ $(token_state "$W9_TOKEN") == valid ]] || fail "the refused token is $(token_state "$W9_TOKEN")"
use_tpm A
attest worker-1 "$WORK/nodeA/again.pem" "$KEY_A"
enrolled_line "enroll --attest (--require-attestation)" "key tpm2:file=$KEY_A" "$WORK/nodeA/again.pem"
node_cert "$WORK/nodeA/again.pem" worker-1
attested_by "$(serial_of "$WORK/nodeA/again.pem")" "$EK_A" "enroll --attest (--require-attestation)"

# --- 9. EK roots that do not cover a registered EK ----------------------------------------------

# shellcheck disable=SC2086  # the two files of each
for pem in ${EK_ROOTS[A]} ${EK_ROOTS[B]}; do
  hwca ek-roots remove "$(openssl x509 -in "$pem" -outform DER | sha256sum | cut -d' ' -f1)" >/dev/null
done
[[ -z $(hwca ek-roots list | grep -E '^[0-9a-f]{64}' || true) ]] ||
  fail "EK roots left: $(hwca ek-roots list)"
hwca node register --name worker-2 --ek-cert "$WORK/ekB.pem" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other-root.key \
  -subj "/CN=another EK root" -days 30 -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign" -out other-root.pem 2>/dev/null || fail "no other root"
hwca ek-roots add other-root.pem >/dev/null
use_tpm B
before ek_untrusted
attest worker-2 "$WORK/nodeB/w2.pem" "$KEY_B"
refused_attest 2 "refused (403): the EK certificate does not chain to a trusted EK root" \
  ek_untrusted "an EK the roots do not cover" "$WORK/nodeB/w2.pem"
UNTRUSTED_MSG=$ERR
add_roots B
attest worker-2 "$WORK/nodeB/w2.pem" "$KEY_B"
enrolled_line "enroll --attest (roots back)" "key tpm2:file=$KEY_B" "$WORK/nodeB/w2.pem"
attested_by "$(serial_of "$WORK/nodeB/w2.pem")" "$EK_B" "enroll --attest (roots back)"

tokens_unlogged
out=$(hwca audit verify)
assert_contains "$out" "the hash chain is intact" "audit verify"

cat <<EOF
  $STATS
  bootstrap token, TPM registered: $TOKEN_MSG
  another node's TPM:              $OTHER_TPM_MSG
  unregistered TPM:                $UNREGISTERED_MSG
  --require-attestation:           $REQUIRE_MSG
  EK roots not covering the EK:    $UNTRUSTED_MSG
EOF
echo "ok: attestation against hwca serve: register, enroll, refusals, renew --new-key, P-384 EK," \
  "--require-attestation, EK roots; $((SECONDS - T_START)) s"
