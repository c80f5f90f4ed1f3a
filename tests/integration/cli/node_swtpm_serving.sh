#!/usr/bin/env bash
# hwca-node serving: the kubelet's serving certificate, got over mutual TLS with the node's
# TPM-bound client certificate (its key in a swtpm of the script's own), from the real
# `hwca serve` (a root CA, ec-p256, in a SoftHSM2 token).
#  1. worker-1 enrolls with a bootstrap token made with --ip 10.0.0.5 --ip fd00::5, then
#     `serving --ip 10.0.0.5 --ip fd00::5`: openssl reads the certificate as a kubelet-serving
#     one (EKU serverAuth only, keyUsage digitalSignature critical, CA:FALSE, subject
#     O=system:nodes, CN=system:node:worker-1, SANs exactly DNS:worker-1 and the two
#     addresses), it verifies against the CA as a TLS server, it is audited with profile
#     kubelet-serving; the key file is mode 0600, matches the certificate and is not the TPM
#     key. openssl s_client reaches an s_server on the pair and checks the name worker-1.
#  2. again: not due, the files unchanged; --force: a new serial and a new key.
#  3. --ip 10.0.0.9 (not registered): refused (exit 2) with the server's reason naming the
#     registered addresses, the files untouched; no client certificate, no TPM key: refused,
#     untouched; a missing folder: refused before asking; a certificate that cannot be
#     renamed into place (a folder in the way): the old key put back, nothing left over.
#  4. one file for both (--serving-cert and --serving-key the same): mode 0600, certificate
#     and key that belong together.
#  5. worker-2 registered by its TPM with `hwca node register --ip 10.0.0.7` (shown by `node
#     show` and `node list`) enrolls by attestation and gets a serving certificate for
#     DNS:worker-2, IP:10.0.0.7; worker-1's address is refused, naming 10.0.0.7.
#  6. the second ExecStart of scripts/systemd/hwca-node-renew.service.in, run as systemd would
#     ($$ as $): without HWCA_SERVING it does nothing; with it, not due; with --force in it,
#     a new certificate.
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"  # free_port, wait_port, k8s_spawn; HWCA_HOME=$WORK/home
# shellcheck source=est_lib.sh
source "$here/est_lib.sh"
: "${HWCA_NODE_BIN:?HWCA_NODE_BIN must name the hwca-node binary}"
[[ -x $HWCA_NODE_BIN ]] || fail "HWCA_NODE_BIN=$HWCA_NODE_BIN is not executable"
need jq curl sha256sum timeout
exec {xtrace_fd}>&2
BASH_XTRACEFD=$xtrace_fd
T_START=$SECONDS

ROOT=$HWCA_HOME/cas/root/cert.pem

trap est_node_exit EXIT
# shellcheck source=swtpm_lib.sh
source "$here/swtpm_lib.sh"

# serving [options...]: hwca-node serving as worker-1 (its client certificate and TPM key).
serving() {
  node serving --server "$SERVER" --ca-cert "$ROOT" --key "$KEY_URI" --cert "$CERT" "$@"
}
# key_of PEM: the SHA-256 of the public key of the private key in PEM.
key_of() { openssl pkey -in "$1" -pubout | pub_digest; }
# sans_of PEM: the certificate's SANs as openssl prints them.
sans_of() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -n +2 | sed 's/^ *//'; }
# serving_cert PEM KEY NODE SANS: a kubelet-serving certificate of NODE for exactly SANS (as
# openssl prints them), verifying against the CA, audited, for the key in KEY (mode 0600).
serving_cert() {
  local pem=$1 key=$2 name=$3 sans=$4 out
  [[ $(subject_of "$pem") == "O = system:nodes, CN = system:node:$name" ]] ||
    fail "$pem: subject '$(subject_of "$pem")'"
  out=$(openssl verify -CAfile "$ROOT" -purpose sslserver "$pem" 2>&1) || fail "openssl verify $pem: $out"
  [[ $out == "$pem: OK" ]] || fail "openssl verify $pem: $out"
  out=$(openssl x509 -in "$pem" -noout -ext extendedKeyUsage,keyUsage,basicConstraints)
  [[ $out == *"X509v3 Extended Key Usage: "$'\n'"    TLS Web Server Authentication"* ]] ||
    fail "$pem: EKU is not serverAuth alone: $out"
  [[ $out != *"Client Authentication"* ]] || fail "$pem: EKU has clientAuth: $out"
  [[ $out == *"X509v3 Key Usage: critical"$'\n'"    Digital Signature"$'\n'* ]] ||
    fail "$pem: keyUsage is not digitalSignature alone: $out"
  [[ $out == *"CA:FALSE"* ]] || fail "$pem: not CA:FALSE: $out"
  [[ $(sans_of "$pem") == "$sans" ]] || fail "$pem: SANs '$(sans_of "$pem")', expected '$sans'"
  [[ $(stat -c %a "$key") == 600 ]] || fail "$key is mode $(stat -c %a "$key")"
  [[ $(key_of "$key") == "$(pub_of_cert "$pem")" ]] || fail "$key is not the key of $pem"
  [[ $(pub_of_cert "$pem") != "$TPM_PUB" ]] || fail "$pem is for the TPM key"
  audited "$(serial_of "$pem")" kubelet-serving
}
# served_line WHAT PEM: the last run succeeded silently with the line naming PEM's serial.
served_line() {
  [[ $RC == 0 && -z $ERR ]] || fail "$1 exited $RC: $ERR"
  [[ $OUT =~ ^serving\ certificate\ for\ node\ \'[a-z0-9-]+\':\ ([0-9a-f]+)\ until\ [0-9T:-]+Z\ for\  ]] ||
    fail "$1 printed: $OUT"
  [[ ${BASH_REMATCH[1],,} == "$(serial_of "$2")" ]] || fail "$1 names another serial than $2's: $OUT"
}

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 \
  --subject "/CN=hwca serving test root/O=hwca" >/dev/null
# shellcheck disable=SC2119
est_serve_start
SERVER=https://localhost:$PORT
swtpm_start a
TCTI_A=$SWTPM_TCTI
swtpm_start b
TCTI_B=$SWTPM_TCTI
export HWCA_TCTI=$TCTI_A TPM2OPENSSL_TCTI=$TCTI_A
NODE=$WORK/node
mkdir -m 700 "$NODE" tok
KEY_URI=tpm2:file=$NODE/kubelet.tpmkey
CERT=$NODE/kubelet.pem
SCERT=$NODE/server.crt SKEY=$NODE/server.key

# --- 1. a node enrolled by token gets its serving certificate ---------------------------------

new_token_file tok/t1 worker-1 --ip 10.0.0.5 --ip fd00::5 --ttl 30m
node enroll --server "$SERVER" --ca-cert "$ROOT" --node-name worker-1 --key "$KEY_URI" \
  --bootstrap-token-file tok/t1 --cert-out "$CERT"
[[ $RC == 0 ]] || fail "enroll exited $RC: $ERR"
TPM_PUB=$(pub_of_cert "$CERT")

serving --ip 10.0.0.5 --ip fd00::5 --serving-cert "$SCERT" --serving-key "$SKEY"
served_line "serving (first)" "$SCERT"
assert_contains "$OUT" "for DNS:worker-1, IP:10.0.0.5, IP:fd00::5 in $SCERT, key (made on this host) in $SKEY (there is none yet)" "serving (first)"
SANS1="DNS:worker-1, IP Address:10.0.0.5, IP Address:FD00:0:0:0:0:0:0:5"
serving_cert "$SCERT" "$SKEY" worker-1 "$SANS1"
SERIAL1=$(serial_of "$SCERT")
[[ $(stat -c %a "$SCERT") == 644 ]] || fail "$SCERT is mode $(stat -c %a "$SCERT")"
ls -A "$NODE" | grep -q '^\.' && fail "staged files left in $NODE: $(ls -A "$NODE")"

# The pair serves TLS: s_client checks the chain and the name worker-1.
SPORT=$(free_port)
k8s_spawn "$WORK/s_server.log" openssl s_server -accept "127.0.0.1:$SPORT" -cert "$SCERT" -key "$SKEY" -www
wait_port "$SPORT"
out=$(timeout 15 openssl s_client -connect "127.0.0.1:$SPORT" -CAfile "$ROOT" -verify_return_error \
  -verify_hostname worker-1 -brief </dev/null 2>&1) || fail "s_client to the serving pair: $out"
assert_contains "$out" "Verification: OK" "s_client to the serving pair"
out=$(timeout 15 openssl s_client -connect "127.0.0.1:$SPORT" -CAfile "$ROOT" -verify_return_error \
  -verify_hostname worker-9 -brief </dev/null 2>&1) && fail "s_client took the pair for worker-9: $out"

# --- 2. renewal ----------------------------------------------------------------------------------

before=$(node_dir_state)
serving --ip 10.0.0.5 --ip fd00::5 --serving-cert "$SCERT" --serving-key "$SKEY"
[[ $RC == 0 && -z $ERR ]] || fail "serving (not due) exited $RC: $ERR"
assert_contains "$OUT" "serving certificate $SCERT is not due for renewal until " "serving (not due)"
[[ $(node_dir_state) == "$before" ]] || fail "serving (not due) changed the node's files"

oldkey=$(key_of "$SKEY")
serving --ip fd00::5 --ip 10.0.0.5 --serving-cert "$SCERT" --serving-key "$SKEY" --force
served_line "serving --force" "$SCERT"
assert_contains "$OUT" "(--force)" "serving --force"
[[ $(serial_of "$SCERT") != "$SERIAL1" ]] || fail "serving --force kept serial $SERIAL1"
[[ $(key_of "$SKEY") != "$oldkey" ]] || fail "serving --force kept the key"
# The SANs in the order asked for; the same set, so the pair in place is current for either.
serving_cert "$SCERT" "$SKEY" worker-1 "DNS:worker-1, IP Address:FD00:0:0:0:0:0:0:5, IP Address:10.0.0.5"

# --- 3. refusals leave the files as they were ------------------------------------------------

before=$(node_dir_state)
serving --ip 10.0.0.5 --ip 10.0.0.9 --serving-cert "$SCERT" --serving-key "$SKEY"
refused_by 2 "EST simpleenroll refused (403): the request names IP:10.0.0.9, which node 'worker-1' did not register (registered: 10.0.0.5, fd00::5)" \
  "serving with an address not registered"
assert_contains "$ERR" "the files in place are kept" "serving with an address not registered"
UNREGISTERED_MSG=$ERR
[[ $(node_dir_state) == "$before" ]] || fail "a refused serving request changed the node's files"

serving --ip nonsense --serving-cert "$SCERT" --serving-key "$SKEY"
refused_by 2 "--ip 'nonsense' is not an IPv4 or IPv6 address" "serving --ip nonsense"
node serving --server "$SERVER" --ca-cert "$ROOT" --key "$KEY_URI" --cert "$WORK/none.pem" \
  --serving-cert "$SCERT" --serving-key "$SKEY" --force
refused_by 3 "none.pem" "serving without a client certificate"
node serving --server "$SERVER" --ca-cert "$ROOT" --key "tpm2:file=$WORK/none.tpmkey" --cert "$CERT" \
  --serving-cert "$SCERT" --serving-key "$SKEY" --force
[[ $RC != 0 && $(wc -l <"$WORK/node.err") == 1 && $ERR == "hwca-node: "* ]] ||
  fail "serving with no TPM key: exit $RC: $ERR"
[[ $(node_dir_state) == "$before" ]] || fail "a failed serving run changed the node's files"

# A folder that is not there: refused before anything is asked of the server.
issued=$(hwca cert list --ca root | wc -l)
serving --ip 10.0.0.5 --serving-cert "$NODE/none/server.crt" --serving-key "$SKEY"
refused_by 3 "cannot write $NODE/none/server.crt" "serving into a missing folder"
[[ $(hwca cert list --ca root | wc -l) == "$issued" ]] || fail "serving into a missing folder got a certificate"
# A certificate that cannot take its place (a folder is in the way): issued, but the new key
# that was already renamed over the old one is put back; no staged file is left.
mkdir "$NODE/in-the-way"
touch "$NODE/in-the-way/x"
before=$(node_dir_state)
serving --ip 10.0.0.5 --serving-cert "$NODE/in-the-way" --serving-key "$SKEY"
refused_by 7 "was issued but not installed (the files in place are kept)" "serving over a folder"
INSTALL_MSG=$ERR
[[ $(node_dir_state) == "$before" ]] || fail "a failed installation changed the node's files"
[[ $(key_of "$SKEY") == "$(pub_of_cert "$SCERT")" ]] || fail "the old key was not put back"
rm -r "$NODE/in-the-way"

# --- 4. one file for both --------------------------------------------------------------------------

BOTH=$NODE/server-both.pem
serving --ip 10.0.0.5 --serving-cert "$BOTH" --serving-key "$BOTH"
served_line "serving (one file)" "$BOTH"
[[ $OUT != *"key (made on this host)"* ]] || fail "serving (one file) names a key file: $OUT"
serving_cert "$BOTH" "$BOTH" worker-1 "DNS:worker-1, IP Address:10.0.0.5"
serving --ip 10.0.0.5 --serving-cert "$BOTH" --serving-key "$BOTH"
assert_contains "$OUT" "is not due for renewal" "serving (one file, again)"

# --- 5. a node registered by its TPM, with an address ---------------------------------------

export HWCA_TCTI=$TCTI_B TPM2OPENSSL_TCTI=$TCTI_B
node ek show --out "$WORK/ekB.pem"
[[ $RC == 0 ]] || fail "ek show (B) exited $RC: $ERR"
out=$(hwca node register --name worker-2 --ek-cert "$WORK/ekB.pem" --ip 10.0.0.7 --ip 10.0.0.300 2>&1) ||
  true
[[ $out == *"--ip '10.0.0.300' is not an IPv4 or IPv6 address"* ]] || fail "node register --ip 10.0.0.300: $out"
out=$(hwca node register --name worker-2 --ek-cert "$WORK/ekB.pem" --ip 10.0.0.7)
assert_contains "$out" "registered node 'worker-2': EK certificate, SHA-256 " "node register --ip"
assert_contains "$out" ", addresses 10.0.0.7" "node register --ip"
out=$(hwca node show worker-2)
[[ $out == *$'\n'"addresses:     10.0.0.7"$'\n'* ]] || fail "node show worker-2: $out"
out=$(hwca node list --json | jq -c '.[] | select(.node == "worker-2") | .addresses')
[[ $out == '["10.0.0.7"]' ]] || fail "node list --json: worker-2's addresses are $out"
out=$(hwca node list)
[[ $out =~ worker-2\ +certificate\ +[0-9a-f]{64}\ +10\.0\.0\.7\  ]] || fail "node list: $out"
NODE2=$WORK/node2
mkdir -m 700 "$NODE2"
node enroll --server "$SERVER" --ca-cert "$ROOT" --node-name worker-2 --key "tpm2:file=$NODE2/kubelet.tpmkey" \
  --cert-out "$NODE2/kubelet.pem" --attest
[[ $RC == 0 ]] || fail "enroll --attest (worker-2) exited $RC: $ERR"
TPM_PUB=$(pub_of_cert "$NODE2/kubelet.pem")
serving2() {
  node serving --server "$SERVER" --ca-cert "$ROOT" --key "tpm2:file=$NODE2/kubelet.tpmkey" \
    --cert "$NODE2/kubelet.pem" --serving-cert "$NODE2/server.crt" --serving-key "$NODE2/server.key" "$@"
}
serving2 --ip 10.0.0.7
served_line "serving (worker-2)" "$NODE2/server.crt"
serving_cert "$NODE2/server.crt" "$NODE2/server.key" worker-2 "DNS:worker-2, IP Address:10.0.0.7"
sum2=$(sum_of "$NODE2/server.crt")
serving2 --ip 10.0.0.5 --force
refused_by 2 "IP:10.0.0.5, which node 'worker-2' did not register (registered: 10.0.0.7)" \
  "serving (worker-2) with worker-1's address"
WORKER2_MSG=$ERR
[[ $(sum_of "$NODE2/server.crt") == "$sum2" ]] || fail "a refused request changed worker-2's certificate"

# --- 6. the renewal unit's serving line ---------------------------------------------------------

line=$(sed -n "s/^ExecStart=\/bin\/sh -c '\(.*hwca-node serving.*\)'$/\1/p" "$repo/scripts/systemd/hwca-node-renew.service.in")
[[ -n $line ]] || fail "hwca-node-renew.service.in has no ExecStart for hwca-node serving"
line=${line//\$\$/\$}
line=${line//@HWCA_BINDIR@\/hwca-node /$HWCA_NODE_BIN }
[[ $line == *"exec $HWCA_NODE_BIN serving "* ]] || fail "the unit's serving line: $line"
export HWCA_TCTI=$TCTI_A TPM2OPENSSL_TCTI=$TCTI_A
unit_run() {
  RC=0
  env HWCA_SERVER="$SERVER" HWCA_CA_CERT="$ROOT" HWCA_NODE_KEY="$KEY_URI" HWCA_NODE_CERT="$CERT" \
    HWCA_SERVING="$1" sh -c "$line" >"$WORK/node.out" 2>"$WORK/node.err" || RC=$?
  OUT=$(cat "$WORK/node.out") ERR=$(cat "$WORK/node.err")
}
before=$(node_dir_state)
unit_run ""
[[ $RC == 0 && -z $OUT && -z $ERR ]] || fail "the unit's serving line without HWCA_SERVING: exit $RC: $OUT $ERR"
unit_run "--ip 10.0.0.5 --ip fd00::5 --serving-cert $SCERT --serving-key $SKEY"
[[ $RC == 0 ]] || fail "the unit's serving line exited $RC: $ERR"
assert_contains "$OUT" "is not due for renewal" "the unit's serving line"
[[ $(node_dir_state) == "$before" ]] || fail "the unit's serving line (not due) changed the files"
serial=$(serial_of "$SCERT")
unit_run "--ip 10.0.0.5 --ip fd00::5 --serving-cert $SCERT --serving-key $SKEY --force"
served_line "the unit's serving line with --force" "$SCERT"
[[ $(serial_of "$SCERT") != "$serial" ]] || fail "the unit's serving line with --force kept the certificate"

tokens_unlogged
out=$(hwca audit verify)
assert_contains "$out" "the hash chain is intact" "audit verify"
cat <<EOF
  address not registered:   $UNREGISTERED_MSG
  not installed:            $INSTALL_MSG
  worker-2 (attested):      $WORKER2_MSG
EOF
echo "ok: hwca-node serving: token and attested nodes, renewal, refusals, one-file pair, the" \
  "renewal unit; $((SECONDS - T_START)) s"
