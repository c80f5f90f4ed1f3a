#!/usr/bin/env bash
# hwca-node, the node agent, with its key in a swtpm of the script's own, against `hwca serve`
# (a root CA, ec-p256, in a SoftHSM2 token).
#  1. enroll: the key is made in the TPM (a TSS2 key file of mode 0600) and the certificate
#     carries it, as tpm2-openssl (independent of hwca) reads it from the TPM; subject, chain
#     and audit line are the node's. The spent token is refused (exit 4), nothing changes.
#  2. renew: a no-op before two thirds of the life; --force renews with the same TPM key over
#     mutual TLS (a new serial, the file replaced, the old certificate still recorded); with
#     the current certificate revoked the renewal is refused (exit 4), nothing changes.
#  3. faults, each with its exit code and one "hwca-node: " line, none writing a file: a token
#     file readable by others, no token file, another CA's certificate as --ca-cert, nothing
#     listening, an http:// server, the TPM gone. None spends the token.
#  4. kubelet-credential: an ExecCredential (v1) for a fresh key (not the TPM's), for an hour,
#     of profile kubelet-credential; kubectl, through a kubeconfig whose user runs the plugin,
#     reaches a TLS endpoint (openssl s_server) that requires a client certificate of the CA
#     and sees the node's subject; without the TPM the plugin and kubectl fail. The
#     kubelet-credential endpoint refuses HTTP Basic (a bootstrap token) with 401.
# (The systemd units are verified as installed: install_cmake_layout.sh.)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"  # free_port, k8s_spawn (stopped at exit); HWCA_HOME=$WORK/home
# shellcheck source=est_lib.sh
source "$here/est_lib.sh"
: "${HWCA_NODE_BIN:?HWCA_NODE_BIN must name the hwca-node binary}"
[[ -x $HWCA_NODE_BIN ]] || fail "HWCA_NODE_BIN=$HWCA_NODE_BIN is not executable"
need curl jq kubectl timeout sha256sum env
# Under bash -x the trace goes to the script's stderr, never into a stderr a check captures.
exec {xtrace_fd}>&2
BASH_XTRACEFD=$xtrace_fd
T_START=$SECONDS

AUDIT=$HWCA_HOME/audit.log
ROOT=$HWCA_HOME/cas/root/cert.pem
NODE_SUBJECT="O = system:nodes, CN = system:node:worker-1"

# --- the EST server, stopped when the script exits (before k8s_lib's and lib.sh's cleanup) ---

trap est_node_exit EXIT
# swtpm_lib chains its handler (stop every swtpm) before est_node_exit.
# shellcheck source=swtpm_lib.sh
source "$here/swtpm_lib.sh"

# start_server: `hwca serve` for CA root on a free port of 127.0.0.1 (as est_curl_enroll.sh);
# sets SERVE_LINE, PORT and SERVER (https://localhost:PORT, a name of its TLS certificate).
start_server() {
  # shellcheck disable=SC2119  # no serve options here
  est_serve_start
  SERVER=https://localhost:$PORT
}

# --- helpers (est_lib.sh has node, refused_by, new_token_file, audited, node_cert...) --------

# new_token FILE [MODE]: a new bootstrap token of worker-1 in FILE (mode 0600 unless MODE);
# TOKEN_ID its id.
new_token() {
  new_token_file "$1" worker-1 --ip 10.0.0.5 --ttl 30m
  chmod "${2:-600}" "$1"
}
enroll() {
  node enroll --server "${SRV:-$SERVER}" --ca-cert "${CACERT:-$ROOT}" --node-name worker-1 \
    --key "$KEY_URI" "$@"
}
renew() { node renew --server "$SERVER" --ca-cert "$ROOT" --key "$KEY_URI" --cert "$CERT" "$@"; }
# listed SERIAL: `hwca cert list` holds SERIAL; LISTED is its line.
listed() {
  LISTED=$(hwca cert list --ca root | awk -v s="$1" '$1 == s') || true
  [[ -n $LISTED ]] || fail "certificate $1 is not in 'hwca cert list'"
}

# --- the CA, the server, the TPM ----------------------------------------------------------------

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 \
  --subject "/CN=hwca node test root/O=hwca" >/dev/null
start_server
swtpm_start node
export HWCA_TCTI=$SWTPM_TCTI
NODE=$WORK/node
mkdir -m 700 "$NODE"
KEYFILE=$NODE/kubelet.tpmkey
KEY_URI=tpm2:file=$KEYFILE
CERT=$NODE/kubelet.pem
mkdir -m 700 tok

# --- 1. the first enrollment ---------------------------------------------------------------------

new_token tok/t1
T1_ID=$TOKEN_ID
enroll --bootstrap-token-file tok/t1 --cert-out "$CERT"
[[ $RC == 0 ]] || fail "hwca-node enroll exited $RC: $ERR"
[[ -z $ERR ]] || fail "hwca-node enroll wrote to stderr: $ERR"
SERIAL1=$(serial_of "$CERT")
re="^enrolled node 'worker-1': certificate ([0-9a-f]+) until [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z in $CERT \(key made in the TPM: $KEY_URI\)$"
[[ $OUT =~ $re ]] || fail "hwca-node enroll printed: $OUT"
[[ ${BASH_REMATCH[1],,} == "$SERIAL1" ]] || fail "enroll names serial ${BASH_REMATCH[1]}, the file holds $SERIAL1"
[[ -f $KEYFILE && $(stat -c %a "$KEYFILE") == 600 ]] || fail "the key file is mode $(stat -c %a "$KEYFILE" 2>&1)"
[[ $(head -n 1 "$KEYFILE") == "-----BEGIN TSS2 PRIVATE KEY-----" ]] ||
  fail "the key file starts with $(head -n 1 "$KEYFILE")"
TPM_PUB=$(pub_of_tpmkey "$KEYFILE")
[[ $(pub_of_cert "$CERT") == "$TPM_PUB" ]] ||
  fail "the certificate's public key is not the TPM key's (as tpm2-openssl reads it)"
node_cert "$CERT"
audited "$SERIAL1" kubelet-client
[[ $(token_state "$T1_ID") == used ]] || fail "the token is $(token_state "$T1_ID") after the enrollment"

# The spent token again: refused by the server (401), the certificate and the key untouched.
before=$(node_dir_state)
enroll --bootstrap-token-file tok/t1 --cert-out "$CERT"
refused_by 4 "EST simpleenroll refused (401)" "an enrollment with the spent token"
SPENT_MSG=$ERR
[[ $(node_dir_state) == "$before" ]] || fail "a refused enrollment changed the node's files"

# --- 2. renewal --------------------------------------------------------------------------------------

before=$(node_dir_state)
renew
[[ $RC == 0 ]] || fail "renew of a new certificate exited $RC: $ERR"
assert_contains "$OUT" "certificate $CERT is not due for renewal until " "renew (not due)"
[[ $(node_dir_state) == "$before" ]] || fail "renew (not due) changed the node's files"

inode=$(stat -c %i "$CERT")
renew --force
[[ $RC == 0 && -z $ERR ]] || fail "renew --force exited $RC: $ERR"
SERIAL2=$(serial_of "$CERT")
[[ $SERIAL2 != "$SERIAL1" ]] || fail "renew --force kept serial $SERIAL1"
[[ $OUT == "renewed node 'worker-1': certificate "*" in $CERT" ]] || fail "renew --force printed: $OUT"
[[ ${OUT,,} == *" $SERIAL2 "* ]] || fail "renew --force names another serial than $SERIAL2: $OUT"
[[ $(stat -c %i "$CERT") != "$inode" ]] || fail "renew --force did not replace the file (same inode)"
[[ $(pub_of_cert "$CERT") == "$TPM_PUB" ]] || fail "the renewed certificate is not for the TPM key"
node_cert "$CERT"
audited "$SERIAL2" kubelet-client
listed "$SERIAL1"
assert_contains "$LISTED" kubelet-client "cert list of the first certificate"

hwca revoke --ca root "$SERIAL2" >/dev/null
before=$(node_dir_state)
renew --force
refused_by 4 "client certificate $SERIAL2 is revoked" "renew --force with a revoked certificate"
REVOKED_MSG=$ERR
[[ $(node_dir_state) == "$before" ]] || fail "a refused renewal changed the node's files"

# A new token gives the node a fresh certificate, with the same key (reused, not remade).
new_token tok/t2
keysum=$(sum_of "$KEYFILE")
enroll --bootstrap-token-file tok/t2 --cert-out "$CERT"
[[ $RC == 0 ]] || fail "enrollment with a new token exited $RC: $ERR"
[[ $OUT == *" in $CERT (key $KEY_URI)" ]] || fail "the second enrollment printed: $OUT"
[[ $(sum_of "$KEYFILE") == "$keysum" ]] || fail "the second enrollment replaced the key file"
SERIAL3=$(serial_of "$CERT")
[[ $SERIAL3 != "$SERIAL2" && $SERIAL3 != "$SERIAL1" ]] || fail "the re-enrollment kept an old serial"
audited "$SERIAL3" kubelet-client
[[ $(pub_of_cert "$CERT") == "$TPM_PUB" ]] || fail "the re-enrolled certificate is not for the TPM key"
node_cert "$CERT"

# --- 3. faults: nothing written, the token not spent ----------------------------------------------

new_token tok/t3
T3_ID=$TOKEN_ID
new_token tok/open 644
OPEN_ID=$TOKEN_ID
OTHER=$WORK/other-ca.pem
hwca_pin ca init --name other --key "$(key_uri other)" --generate ec-p256 \
  --subject "/CN=hwca node test root/O=hwca" >/dev/null  # the same name: only the key differs
cp "$HWCA_HOME/cas/other/cert.pem" "$OTHER"
DOWN=https://localhost:$(free_port)
NEW_OUT=$NODE/new.pem
# fault CODE TEXT WHAT [enroll options...]: an enrollment into the existing certificate and
# one into a new file both fail so, and the node's folder is as it was.
fault() {
  local code=$1 text=$2 what=$3 out before
  shift 3
  before=$(node_dir_state)
  for out in "$CERT" "$NEW_OUT"; do
    enroll --cert-out "$out" "$@"
    refused_by "$code" "$text" "$what (--cert-out $(basename "$out"))"
    [[ $(node_dir_state) == "$before" ]] || fail "$what: the node's files changed"
  done
}
fault 4 "tok/open" "a token file of mode 0644" --bootstrap-token-file tok/open
FAULT_0644=$ERR
fault 3 "tok/none" "no token file" --bootstrap-token-file tok/none
CACERT=$OTHER fault 7 "does not chain to --ca-cert" "another CA's certificate as --ca-cert" \
  --bootstrap-token-file tok/t3
FAULT_CA=$ERR
# A server whose certificate chains but does not hold the name in --server: said so, not
# "does not chain" (the chain verified).
est_serve_stop
est_serve_start --tls-san 127.0.0.1
SRV=https://localhost:$PORT fault 7 "chains to --ca-cert but does not name 'localhost'" \
  "a server certificate without the name used" --bootstrap-token-file tok/t3
est_serve_stop
start_server
SRV=$DOWN fault 7 "EST server localhost:${DOWN##*:}: " "nothing listening" --bootstrap-token-file tok/t3
FAULT_DOWN=$ERR
SRV=http://localhost:$PORT fault 2 "--server must be an https:// URL" "an http:// server" \
  --bootstrap-token-file tok/t3
swtpm_stop "$SWTPM_PID"
fault 5 "cannot reach the TPM through TCTI" "the TPM stopped" --bootstrap-token-file tok/t3
FAULT_TPM=$ERR
swtpm_serve "$SWTPM_DIR"
export HWCA_TCTI=$SWTPM_TCTI
[[ $(token_state "$T3_ID") == valid && $(token_state "$OPEN_ID") == valid ]] ||
  fail "a failed enrollment spent a token: $(token_state "$T3_ID"), $(token_state "$OPEN_ID")"

# --- 4. kubelet-credential ---------------------------------------------------------------------------

cred_args=(kubelet-credential --server "$SERVER" --ca-cert "$ROOT" --key "$KEY_URI" --cert "$CERT"
  --tcti "$SWTPM_TCTI")
node "${cred_args[@]}"
[[ $RC == 0 && -z $ERR ]] || fail "kubelet-credential exited $RC: $ERR"
jq -e . >/dev/null <<<"$OUT" || fail "kubelet-credential printed no JSON: $OUT"
[[ $(jq -r '.apiVersion + " " + .kind' <<<"$OUT") == "client.authentication.k8s.io/v1 ExecCredential" ]] ||
  fail "ExecCredential apiVersion/kind: $(jq -c 'del(.status)' <<<"$OUT")"
jq -r .status.clientCertificateData <<<"$OUT" >cred.pem
jq -r .status.clientKeyData <<<"$OUT" >cred.key
(($(grep -c 'BEGIN CERTIFICATE' cred.pem) == 1)) || fail "clientCertificateData holds $(grep -c 'BEGIN CERTIFICATE' cred.pem) certificates"
exp=$(jq -r .status.expirationTimestamp <<<"$OUT")
[[ $exp =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] || fail "expirationTimestamp '$exp'"
left=$(($(date -d "$exp" +%s) - $(date +%s)))
((left >= 55 * 60 && left <= 65 * 60)) || fail "the credential expires in $left s, not about an hour"
[[ $(date -d "$exp" +%s) == $(date -d "$(openssl x509 -in cred.pem -noout -enddate | cut -d= -f2)" +%s) ]] ||
  fail "expirationTimestamp $exp is not the certificate's notAfter"
node_cert cred.pem
eku=$(openssl x509 -in cred.pem -noout -ext extendedKeyUsage | tail -n +2 | sed 's/^ *//')
[[ $eku == "TLS Web Client Authentication" ]] || fail "the credential's EKU: $eku"
cred_pub=$(pub_of_cert cred.pem)
[[ $cred_pub == "$(openssl pkey -in cred.key -pubout | pub_digest)" ]] ||
  fail "the credential certificate is not for clientKeyData's key"
[[ $cred_pub != "$TPM_PUB" ]] || fail "the credential certificate is for the TPM key"
CRED_SERIAL=$(serial_of cred.pem)
audited "$CRED_SERIAL" kubelet-credential

# kubectl with the plugin, against a TLS endpoint that requires a client certificate of the CA.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout apiserver.key \
  -subj /CN=kube-apiserver -addext "subjectAltName=IP:127.0.0.1,DNS:kubernetes" \
  -out apiserver.csr 2>/dev/null
hwca_pin sign --ca root --profile server --csr apiserver.csr --out apiserver.pem >/dev/null
mkdir www
printf '{\n  "major": "1",\n  "minor": "32",\n  "gitVersion": "v1.32.4"\n}\n' >www/version
# kubectl asks for /version?timeout=10s (its --request-timeout); the kubectl dispatcher (see
# k8s_kubectl_tls.sh) for /version?timeout=5s first.
ln -s version 'www/version?timeout=10s'
ln -s version 'www/version?timeout=5s'
K8S_PORT=$(free_port)
SRV_LOG=$WORK/s_server.log
k8s_spawn "$SRV_LOG" env -C "$WORK/www" openssl s_server -accept "127.0.0.1:$K8S_PORT" \
  -cert "$WORK/apiserver.pem" -key "$WORK/apiserver.key" -CAfile "$ROOT" \
  -Verify 1 -verify_return_error -WWW
server_logged() {
  local i
  for ((i = 0; i < 50; i++)); do
    tail -n "+$1" "$SRV_LOG" | grep -F -- "$2" >/dev/null && return 0
    sleep 0.1
  done
  fail "the endpoint did not log '$2'; its log since line $1: $(tail -n "+$1" "$SRV_LOG")"
}
server_logged 1 ACCEPT
{
  echo "apiVersion: v1"
  echo "kind: Config"
  echo "clusters:"
  echo "- name: test"
  echo "  cluster: {server: \"https://127.0.0.1:$K8S_PORT\", certificate-authority: \"$ROOT\"}"
  echo "users:"
  echo "- name: worker-1"
  echo "  user:"
  echo "    exec:"
  echo "      apiVersion: client.authentication.k8s.io/v1"
  echo "      command: \"$HWCA_NODE_BIN\""
  echo "      args:"
  for a in "${cred_args[@]}"; do echo "      - \"$a\""; done
  echo "      interactiveMode: Never"
  echo "      provideClusterInfo: false"
  echo "contexts:"
  echo "- name: worker-1@test"
  echo "  context: {cluster: test, user: worker-1}"
  echo "current-context: worker-1@test"
} >node.conf
mkdir -m 700 kubehome
unset KUBECONFIG
kc() { HOME=$WORK/kubehome timeout 60 kubectl --kubeconfig node.conf --request-timeout=10s "$@" </dev/null; }
from=$(($(wc -l <"$SRV_LOG") + 1))
creds_before=$(grep -cF '"profile":"kubelet-credential"' "$AUDIT")
rc=0
kc get --raw /version >got.json 2>got.err || rc=$?
cat got.err >>"$STDERR_LOG"
((rc == 0)) || fail "kubectl with the exec plugin exited $rc: $(cat got.err)"
cmp -s got.json www/version || fail "kubectl printed another document: $(cat got.json)"
server_logged "$from" "FILE:version?timeout=10s"
server_logged "$from" "depth=0 $NODE_SUBJECT"
creds=$(($(grep -cF '"profile":"kubelet-credential"' "$AUDIT") - creds_before))
((creds >= 1)) || fail "kubectl got through, yet no kubelet-credential certificate was issued"

# Without the TPM the plugin fails, and so does kubectl, and the endpoint serves nothing.
swtpm_stop "$SWTPM_PID"
node "${cred_args[@]}"
refused_by 5 "cannot reach the TPM through TCTI" "kubelet-credential with the TPM stopped"
FAULT_CRED_TPM=$ERR
from=$(($(wc -l <"$SRV_LOG") + 1))
rc=0
kc get --raw /version >got.json 2>got.err || rc=$?
cat got.err >>"$STDERR_LOG"
((rc != 0)) || fail "kubectl succeeded with the TPM stopped: $(cat got.json)"
KUBECTL_RC=$rc
# The plugin's own stderr reaches kubectl's, then kubectl's reason.
grep -qF "hwca-node: cannot reach the TPM" got.err || fail "kubectl's stderr lacks the plugin's error: $(cat got.err)"
[[ ! -s got.json ]] || fail "kubectl printed with the TPM stopped: $(cat got.json)"
grep -qF "$(basename "$HWCA_NODE_BIN")" got.err || fail "kubectl's error does not name the plugin: $(cat got.err)"
KUBECTL_NO_TPM=$(grep -v '^$' got.err | tail -n 1)
sleep 0.3
! tail -n "+$from" "$SRV_LOG" | grep '^FILE:' >/dev/null || fail "the endpoint served a file without the TPM"

# The kubelet-credential endpoint takes no bootstrap token: HTTP Basic without a client
# certificate gets 401, is counted (reason auth; no audit line of its own: a request that
# never authenticated is summed up in est.rejected.summary), and the token stays valid.
new_token tok/t4
T4=$(<tok/t4)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout basic.key \
  -subj "/O=system:nodes/CN=system:node:worker-1" -outform DER -out basic.der 2>/dev/null
openssl base64 -in basic.der -out basic.b64
issued_before=$(grep -cF '"event":"cert.issued"' "$AUDIT")
lines_before=$(grep -cvF '"event":"est.rejected.summary"' "$AUDIT")
auth_before=$(est_rejected auth)
code=$(curl -sS --max-time 15 --cacert "$ROOT" -u "worker-1:${T4%$'\n'}" -o basic.body \
  -w '%{http_code}' -H "Content-Type: application/pkcs10" --data-binary @basic.b64 \
  "$SERVER/.well-known/est/kubelet-credential/simpleenroll") || fail "curl exited $?"
[[ $code == 401 ]] || fail "kubelet-credential with HTTP Basic: status $code, expected 401: $(cat basic.body)"
[[ $(grep -cvF '"event":"est.rejected.summary"' "$AUDIT") == "$lines_before" ]] || fail "the 401 was audited on a line of its own: $(tail -n 1 "$AUDIT")"
auth_after=$(est_rejected auth)
((auth_after == auth_before + 1)) || fail "the 401 is not counted: auth $auth_before -> $auth_after"
[[ $(grep -cF '"event":"cert.issued"' "$AUDIT") == "$issued_before" ]] || fail "HTTP Basic got a certificate issued"
[[ $(token_state "$TOKEN_ID") == valid ]] || fail "the refused request spent the token"

tokens_unlogged
out=$(hwca audit verify)
assert_contains "$out" "the hash chain is intact" "audit verify"

cat <<EOF
  spent token:              $SPENT_MSG
  revoked certificate:      $REVOKED_MSG
  token file of mode 0644:  $FAULT_0644
  another CA as --ca-cert:  $FAULT_CA
  nothing listening:        $FAULT_DOWN
  TPM stopped (enroll):     $FAULT_TPM
  TPM stopped (credential): $FAULT_CRED_TPM
  kubectl without the TPM:  exit $KUBECTL_RC: $KUBECTL_NO_TPM
EOF
echo "ok: hwca-node with a swtpm: enroll, renew, faults, kubelet-credential through kubectl" \
  "($creds credential(s) for one kubectl call);" \
  "$((SECONDS - T_START)) s"
