#!/usr/bin/env bash
# hwca-node (its key in a swtpm of the script's own, against `hwca serve`) when the node's
# disk fills up, turns read-only, or its TPM goes away in the middle of a renewal. The node's
# folder is a 1 MiB tmpfs in a private mount namespace (exit 77, a ctest skip, where
# mounting is not permitted).
#  1. A first enrollment on a full disk: one "hwca-node: " line, nothing left in the folder,
#     the bootstrap token not spent; once space is back the same token enrolls.
#  2. renew --force on a full disk and on a read-only folder: the CA issued, so the
#     certificate goes to standard output and the line says so; the files are unchanged and
#     no staged file is left; enroll --new-key on a read-only folder: nothing changes.
#  3. The TPM gone in the middle of `renew --force` and of `enroll --new-key`: a proxy
#     (tpm_cut_proxy.py) between hwca-node and the swtpm closes everything after N TPM
#     commands, for every N short of a whole run (8 and 12 commands here). Each run either
#     succeeds (the files replaced whole, and the key file and certificate one pair as
#     tpm2-openssl reads the key) or exits 5 with one line naming the TPM and the step
#     (the files unchanged: same inodes and digests; no staged file). Afterwards the pair on
#     disk renews over mutual TLS.
# Every certificate a run reported (saved or on standard output) is in the database and
# audited; `hwca audit verify` passes.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=resource_lib.sh
source "$here/resource_lib.sh"
resource_private_mounts "$@"
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh" # HWCA_HOME=$WORK/home, and the EXIT handler est_node_exit chains
# shellcheck source=est_lib.sh
source "$here/est_lib.sh"
: "${HWCA_NODE_BIN:?HWCA_NODE_BIN must name the hwca-node binary}"
need curl jq timeout sha256sum df dd /usr/bin/python3 tpm2_flushcontext
exec {xtrace_fd}>&2
BASH_XTRACEFD=$xtrace_fd
_node_disk_exit() {
  local rc=$?
  set +e
  umount_all
  (exit "$rc")
  est_node_exit
}
trap _node_disk_exit EXIT
# shellcheck source=swtpm_lib.sh
source "$here/swtpm_lib.sh"


ROOT=$HWCA_HOME/cas/root/cert.pem
hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 \
  --subject "/CN=hwca node disk test root/O=hwca" >/dev/null
# shellcheck disable=SC2119  # no serve options here
est_serve_start
SERVER=https://localhost:$PORT
swtpm_start node
export HWCA_TCTI=$SWTPM_TCTI
NODE=$WORK/node
small_fs "$NODE" 1m
KEYFILE=$NODE/kubelet.tpmkey
KEY_URI=tpm2:file=$KEYFILE
CERT=$NODE/kubelet.pem
mkdir -m 700 tok
HANDED=$WORK/handed
: >"$HANDED"

enroll() {
  node enroll --server "$SERVER" --ca-cert "$ROOT" --node-name worker-1 --key "$KEY_URI" \
    --cert-out "$CERT" "$@"
}
renew() { node renew --server "$SERVER" --ca-cert "$ROOT" --key "$KEY_URI" --cert "$CERT" "$@"; }
# paired: the key file and the certificate belong together (tpm2-openssl reads the key's
# public half from the TPM, no hwca code involved) and the certificate is the CA's.
paired() {
  [[ $(pub_of_tpmkey "$KEYFILE") == "$(pub_of_cert "$CERT")" ]] ||
    fail "$1: the certificate is not for the key in $KEYFILE"
  node_cert "$CERT"
}
# no_staged: no file a run stages before its rename is left in the node's folder.
no_staged() {
  local left
  left=$(find "$NODE" -name '.*.new*' -o -name '*.tmp*')
  [[ -z $left ]] || fail "$1: staged files were left: $left"
}
# pem_on_stdout WHAT: the last run printed a certificate (one the CA issued but that could
# not be saved) on standard output; it was handed out.
pem_on_stdout() {
  [[ $OUT == *"-----BEGIN CERTIFICATE-----"* ]] || fail "$1: no certificate on standard output: $OUT"
  printf '%s\n' "$OUT" >stdout.pem
  serial_of stdout.pem >>"$HANDED"
}

# --- 1. a first enrollment on a full disk ----------------------------------------------------
fill_fs "$NODE"
new_token_file tok/t1 worker-1 --ttl 30m
T1=$TOKEN_ID
enroll --bootstrap-token-file tok/t1
refused_by 7 "cannot write $KEYFILE: No space left on device" "enroll on a full disk"
[[ -z $(find "$NODE" -mindepth 1 ! -name '.filler*') ]] ||
  fail "enroll on a full disk left $(find "$NODE" -mindepth 1 ! -name '.filler*')"
[[ $(token_state "$T1") == valid ]] || fail "enroll on a full disk spent the token"
unfill_fs "$NODE"
enroll --bootstrap-token-file tok/t1
[[ $RC == 0 ]] || fail "enroll once space is back exited $RC: $ERR"
serial_of "$CERT" >>"$HANDED"
paired "the first enrollment"

# --- 2. renewals that cannot be saved --------------------------------------------------------
# renew_unsaved WHAT TEXT: renew --force issues, cannot save (TEXT), prints the certificate;
# the node's files are unchanged.
renew_unsaved() {
  local before
  before=$(node_dir_state)
  renew --force
  [[ $RC == 7 ]] || fail "$1: renew --force exited $RC, expected 7: $ERR"
  [[ $(wc -l <<<"$ERR") == 1 && $ERR == "hwca-node: "* ]] || fail "$1: stderr: $ERR"
  assert_contains "$ERR" "was issued but not saved (its PEM is on standard output)" "$1"
  assert_contains "$ERR" "$2" "$1"
  pem_on_stdout "$1"
  [[ $(node_dir_state) == "$before" ]] || fail "$1: the node's files changed"
  no_staged "$1"
}
fill_fs "$NODE"
renew_unsaved "renew on a full disk" "No space left on device"
unfill_fs "$NODE"
readonly_fs "$NODE"
renew_unsaved "renew on a read-only folder" "Read-only file system"
new_token_file tok/t2 worker-1 --ttl 30m
before=$(node_dir_state)
enroll --bootstrap-token-file tok/t2 --new-key
refused_by 7 "Read-only file system" "enroll --new-key on a read-only folder"
[[ $(node_dir_state) == "$before" ]] || fail "enroll --new-key on a read-only folder changed the files"
writable_fs "$NODE"
paired "after the refused writes"

# --- 3. the TPM gone in the middle of a run --------------------------------------------------
# tpm_cut_proxy.py stands between hwca-node and the swtpm and goes away (every connection
# closed, nothing listening) once it has answered LIMIT TPM commands: the TPM disappears
# between two commands, at each step of a run in turn.
# tpm_proxy LIMIT: start one (PROXY_PID); TPM_VIA_PROXY is its TCTI.
tpm_proxy() {
  rm -f proxy.port proxy.port.count
  /usr/bin/python3 "$here/tpm_cut_proxy.py" proxy.port "$1" "${SWTPM_TCTI##*port=}" 2>>proxy.err &
  PROXY_PID=$!
  for _ in $(seq 100); do
    [[ -s proxy.port ]] && break
    kill -0 "$PROXY_PID" 2>/dev/null || fail "tpm_cut_proxy.py exited: $(cat proxy.err)"
    sleep 0.05
  done
  [[ -s proxy.port ]] || fail "tpm_cut_proxy.py did not start"
  TPM_VIA_PROXY="swtpm:host=127.0.0.1,port=$(cat proxy.port)"
}
proxy_done() {
  kill "$PROXY_PID" 2>/dev/null || true
  { wait "$PROXY_PID"; } 2>/dev/null || true
  PROXY_COUNT=$(cat proxy.port.count 2>/dev/null || echo 0)
}
# cut_run WHAT LIMIT CMD...: hwca-node CMD with the TPM gone after LIMIT commands. Either it
# succeeded (the certificate replaced; for --new-key the key too) or it exited 5 naming the
# TPM and left every file as it was; then, through the real TPM, the pair on disk is one.
ran_ok=0 ran_cut=0
cut_run() {
  local what=$1 limit=$2 before cert_inode rc=0
  shift 2
  before=$(node_dir_state)
  cert_inode=$(stat -c %i "$CERT")
  tpm_proxy "$limit"
  HWCA_TCTI=$TPM_VIA_PROXY "$HWCA_NODE_BIN" "$@" >run.out 2>run.err || rc=$?
  proxy_done
  # A client cut off leaves its objects and sessions in the swtpm, which has no resource
  # manager (the kernel's, /dev/tpmrm0, flushes them when a process goes away): flush them.
  tpm2_flushcontext -t >/dev/null 2>&1 || fail "$what: tpm2_flushcontext -t failed"
  tpm2_flushcontext -l >/dev/null 2>&1 || fail "$what: tpm2_flushcontext -l failed"
  cat run.err >>"$STDERR_LOG"
  if ((rc == 0)); then
    [[ $(stat -c %i "$CERT") != "$cert_inode" ]] || fail "$what: exit 0 but the certificate was not replaced"
    serial_of "$CERT" >>"$HANDED"
    paired "$what"
    ran_ok=$((ran_ok + 1))
  else
    [[ $rc == 5 ]] || fail "$what (the TPM gone after $limit commands): exit $rc: $(cat run.err)"
    [[ $(wc -l <run.err) == 1 && $(cat run.err) == "hwca-node: "* ]] ||
      fail "$what: stderr is not one line: $(cat run.err)"
    grep -qF "TPM" run.err || fail "$what: the line does not name the TPM: $(cat run.err)"
    [[ $(node_dir_state) == "$before" ]] || fail "$what: a run the TPM left changed the files"
    ran_cut=$((ran_cut + 1))
  fi
  no_staged "$what"
}
# How many TPM commands a whole run sends: every step of it is cut in turn.
RENEW=(renew --server "$SERVER" --ca-cert "$ROOT" --key "$KEY_URI" --cert "$CERT" --force)
cut_run "renew, counted" -1 "${RENEW[@]}"
RENEW_COMMANDS=$PROXY_COUNT
((RENEW_COMMANDS > 2)) || fail "a renewal sent $RENEW_COMMANDS TPM commands through the proxy"
for ((n = 1; n < RENEW_COMMANDS; n++)); do cut_run "renew, TPM gone after $n commands" "$n" "${RENEW[@]}"; done
new_key() {
  new_token_file "tok/n$1" worker-1 --ttl 30m
  NEW_KEY=(enroll --server "$SERVER" --ca-cert "$ROOT" --node-name worker-1 --key "$KEY_URI"
    --cert-out "$CERT" --bootstrap-token-file "tok/n$1" --new-key)
}
new_key 0
cut_run "enroll --new-key, counted" -1 "${NEW_KEY[@]}"
NEW_KEY_COMMANDS=$PROXY_COUNT
for ((n = 1; n < NEW_KEY_COMMANDS; n++)); do
  new_key "$n"
  cut_run "enroll --new-key, TPM gone after $n commands" "$n" "${NEW_KEY[@]}"
done
# Only a run cut after its last needed command (a flush, whose failure is ignored) may
# succeed: at most one of each kind.
cuts=$((RENEW_COMMANDS - 1 + NEW_KEY_COMMANDS - 1))
((ran_cut >= cuts - 2)) || fail "only $ran_cut of $cuts runs the TPM left failed; the others succeeded"
# The pair left on disk still works over mutual TLS.
renew --force
[[ $RC == 0 ]] || fail "renew --force after the rounds exited $RC: $ERR"
serial_of "$CERT" >>"$HANDED"
paired "the last renewal"

est_serve_stop
all_recorded "$HANDED"
audit_verified
echo "ok: hwca-node on a full or read-only disk writes nothing half and prints what it could" \
  "not save; the TPM gone after each of the $RENEW_COMMANDS commands of a renewal and the" \
  "$NEW_KEY_COMMANDS of an enroll --new-key left the pair on disk whole; $SECONDS s"
