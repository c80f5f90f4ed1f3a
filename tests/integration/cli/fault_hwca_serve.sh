#!/usr/bin/env bash
# `hwca serve` under load (four clients renewing over mutual TLS in a loop) while its CA
# token fails (tests/support/fault_pkcs11 around SoftHSM2), then killed and stopped:
#  1. a table of faults, each lasting 1.5 s: while it lasts the clients get 503 with
#     Retry-After (reason `device` in the metrics), never 500; when it ends the same server
#     (no restart) issues again within 3 s;
#  2. a C_Sign that hangs past the call timeout: the server exits 5 with one line naming the
#     call and the token; restarted, it serves and the records are whole;
#  3. SIGKILL, then SIGTERM, under load: afterwards `hwca audit verify` passes.
# Throughout, every certificate a client received is in the database and audited, and no
# serial is used twice. The server's TLS key is a software one so that the token's faults
# hit the CA's signatures, not the handshakes (TokenRecoveryLoad covers a token TLS key).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=est_lib.sh
source "$here/est_lib.sh"
# shellcheck source=fault_lib.sh
source "$here/fault_lib.sh"
need curl jq

export HWCA_HOME=$WORK/home
AUDIT=$HWCA_HOME/audit.log
ROOT=$HWCA_HOME/cas/root/cert.pem

LOOP_PIDS=()
_serve_exit() {
  local rc=$? pid
  set +e
  touch "$WORK/stop"
  for pid in "${LOOP_PIDS[@]}"; do { wait "$pid"; } 2>/dev/null; done
  est_serve_stop
  est_serve_logs
  (exit "$rc")
  _cleanup
}
trap _serve_exit EXIT

fault_use
hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 --subject /CN=serve-root \
  >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -days 2 \
  -out tls.pem 2>/dev/null
serve() { est_serve_start --tls-cert "$WORK/tls.pem" --tls-key "$WORK/tls.key"; BASE=https://127.0.0.1:$PORT; }

# A node enrolls once with a bootstrap token; its certificate renews in the loops.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out n.key
openssl req -new -key n.key -subj /O=system:nodes/CN=system:node:worker-1 -outform DER -out n.der
openssl base64 -in n.der -out n.b64
serve
token=$(hwca bootstrap create --node worker-1 2>/dev/null)
code=$(curl -sS --max-time 15 --cacert tls.pem -u "worker-1:$token" -H "Content-Type: application/pkcs10" \
  --data-binary @n.b64 -o n.p7 -w '%{http_code}' "$BASE/.well-known/est/simpleenroll")
[[ $code == 200 ]] || fail "the first enrollment: $code $(cat n.p7)"
tr -d '\r' <n.p7 | base64 -d | openssl pkcs7 -inform DER -print_certs -out n.pem

# renew_loop W: renewals until $WORK/stop exists; "W I CURL-RC STATUS" a line in loop/W.log,
# the reply in loop/W.I.body and its headers in loop/W.I.hdr.
mkdir loop
renew_loop() {
  local w=$1 i=0 rc code
  while [[ ! -e $WORK/stop ]]; do
    i=$((i + 1)) rc=0
    code=$(curl -sS --max-time 15 --cacert tls.pem --cert n.pem --key n.key \
      -H "Content-Type: application/pkcs10" --data-binary @n.b64 -o "loop/$w.$i.body" \
      -D "loop/$w.$i.hdr" -w '%{http_code}' "$BASE/.well-known/est/simplereenroll" \
      2>"loop/$w.$i.err") || rc=$?
    echo "$w $i $rc $code $(date +%s%N)" >>"loop/$w.log"
    sleep 0.1  # a steady load, not a flood: each reply is checked afterwards
  done
}
start_load() {
  rm -f "$WORK/stop"
  for w in 1 2 3 4; do
    renew_loop "$w.$RUN" &
    LOOP_PIDS+=("$!")
  done
}
stop_load() {
  touch "$WORK/stop"
  for pid in "${LOOP_PIDS[@]}"; do wait "$pid"; done
  LOOP_PIDS=()
}
# since NS STATUS: how many replies with STATUS completed after time NS (nanoseconds).
since() { cat loop/*.log 2>/dev/null | awk -v t="$1" -v s="$2" '$5 > t && $4 == s' | wc -l; }
metric() {
  curl -sS --max-time 15 --cacert tls.pem "$BASE/metrics" |
    awk -v m="hwca_est_rejected_total{reason=\"$1\"}" '$1 == m {n = $2} END {print n + 0}'
}

# --- 1. faults while the server runs -----------------------------------------------------------
# Each row reaches a different path of the key store (tokens/pkcs11/signer.cpp, rv.cpp):
#   C_Sign CKR_DEVICE_REMOVED          a token gone: reconnect (once a second), still fails
#   C_Sign CKR_DEVICE_ERROR            the same with the code remote tokens give
#   C_Sign CKR_SESSION_HANDLE_INVALID  a lost session: log in again on a new anchor, retry
#   C_Sign CKR_USER_NOT_LOGGED_IN      a lost login: the same, then reconnect
#   C_Sign CKR_GENERAL_ERROR           a plain failure: no retry, a device error at once
#   close-sessions + C_OpenSession CKR_DEVICE_ERROR   no session opens for the pool
#   logout + C_Login CKR_GENERAL_ERROR                logging in again fails
#   logout + C_FindObjects CKR_USER_NOT_LOGGED_IN     the key lookup of a new epoch fails
#   logout + C_GetAttributeValue CKR_DEVICE_REMOVED   reading the key found fails
ROWS=(
  "C_Sign CKR_DEVICE_REMOVED"
  "C_Sign CKR_DEVICE_ERROR"
  "C_Sign CKR_SESSION_HANDLE_INVALID"
  "C_Sign CKR_USER_NOT_LOGGED_IN"
  "C_Sign CKR_GENERAL_ERROR"
  "close-sessions|C_OpenSession CKR_DEVICE_ERROR"
  "logout|C_Login CKR_GENERAL_ERROR"
  "logout|C_FindObjects CKR_USER_NOT_LOGGED_IN"
  "logout|C_GetAttributeValue CKR_DEVICE_REMOVED"
)
echo "setup done at ${SECONDS}s"
RUN=1
start_load
pid0=$SERVE_PID
for row in "${ROWS[@]}"; do
  sleep 1.1  # past the last reconnection (one a second at most)
  device0=$(metric device)
  t0=$(date +%s%N)
  until=$(fault_at 1.5)
  rules=()
  IFS='|' read -r -a parts <<<"$row"
  for p in "${parts[@]}"; do rules+=("$p until=$until"); done
  fault_set "${rules[@]}"
  sleep 1.5
  t1=$(date +%s%N)
  n503=$(since "$t0" 503)
  ((n503 > 0)) || fail "'$row': no 503 while the fault lasted"
  # Back within 3 s, from the same process.
  for _ in $(seq 30); do (($(since "$t1" 200) > 0)) && break; sleep 0.1; done
  (($(since "$t1" 200) > 0)) || fail "'$row': no certificate within 3 s of the fault's end: $(tail -n 3 "$SERVE_ERR")"
  if [[ $SERVE_PID != "$pid0" ]] || ! kill -0 "$SERVE_PID"; then fail "'$row': the server is gone"; fi
  device1=$(metric device)
  ((device1 > device0)) || fail "'$row': rejected{reason=device} stayed at $device0"
  echo "fault '$row': $n503 refusals (503), rejected{device} $device0 -> $device1"
done
fault_clear
stop_load
(($(metric internal) == 0)) || fail "some refusals were counted as internal: $(metric internal)"

# check_replies: every reply is 200 (one certificate: recorded, audited, its serial new) or
# 503 with Retry-After and the plain outage text; a failed connection only when the server
# was killed or stopped ($1 = 1).
HANDED=$WORK/handed
: >"$HANDED"
declare -A CHECKED=() LISTED=() AUDITED=()
# serial_of_reply FILE: the serial (lower-case hex, no leading zeros) of the one certificate
# in the base64 certs-only PKCS#7 FILE (one openssl process: the body becomes PEM in bash).
serial_of_reply() {
  local b s
  b=$(<"$1")
  printf -- '-----BEGIN PKCS7-----\n%s\n-----END PKCS7-----\n' "${b//$'\r'/}" >"$1.p7"
  s=$(openssl pkcs7 -in "$1.p7" -print -noout | sed -n 's/^ *serialNumber: *0x//p') || return 1
  [[ $(wc -l <<<"$s") == 1 && -n $s ]] || return 1
  s=${s,,}
  echo "${s##+(0)}"
}
shopt -s extglob
check_replies() {
  local cut_ok=${1:-0} w i rc code _t f s
  LISTED=() AUDITED=()
  for s in $(db_serials); do s=${s,,}; LISTED[${s##+(0)}]=1; done
  for s in $(jq -r 'select(.event == "cert.issued") | .data.serial' "$AUDIT"); do
    s=${s,,}
    AUDITED[${s##+(0)}]=1
  done
  while read -r w i rc code _t; do
    f=loop/$w.$i
    [[ -z ${CHECKED[$f]:-} ]] || continue
    CHECKED[$f]=1
    if ((rc != 0)); then
      ((cut_ok)) || fail "$f: curl exit $rc: $(cat "$f.err")"
      continue
    fi
    case $code in
      200)
        s=$(serial_of_reply "$f.body") || fail "$f: a 200 without one certificate: $(head -c 200 "$f.body")"
        [[ -n ${LISTED[$s]:-} ]] || fail "$f: certificate $s was handed out but is not in the database"
        [[ -n ${AUDITED[$s]:-} ]] || fail "$f: certificate $s was handed out but not audited"
        echo "$s" >>"$HANDED"
        ;;
      503)
        grep -qi '^retry-after: 30' "$f.hdr" || fail "$f: 503 without Retry-After: $(cat "$f.hdr")"
        [[ $(<"$f.body") == "the CA cannot issue now; retry later"* ]] || fail "$f: 503 body: $(cat "$f.body")"
        ;;
      *) fail "$f: status $code: $(cat "$f.body")" ;;
    esac
  done < <(cat loop/*.log)
  serials_distinct "$HANDED"
}
check_replies 0
echo "phase 1 done at ${SECONDS}s"

# --- 2. a C_Sign that hangs past the call timeout ------------------------------------------
est_serve_stop
HWCA_TOKEN_TIMEOUT=1 serve
RUN=2
start_load
sleep 0.5
fault_set "C_Sign delay=4000"
for _ in $(seq 50); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
rc=0
wait "$SERVE_PID" || rc=$?
SERVE_PID=""
stop_load
((rc == 5)) || fail "hwca serve with a hanging C_Sign exited $rc: $(cat "$SERVE_ERR")"
last=$(tail -n 1 "$SERVE_ERR")
[[ $last == "hwca: token 'ca' (serial "*") did not answer C_Sign within 1.0 s; giving up"* ]] ||
  fail "the watchdog's line: $last"
fault_clear
audit_ok
check_replies 1

# --- 3. SIGKILL and SIGTERM under load ------------------------------------------------------
for sig in KILL TERM; do
  serve
  RUN=$sig
  start_load
  for _ in $(seq 100); do (($(wc -l <"loop/1.$sig.log" 2>/dev/null || echo 0) >= 5)) && break; sleep 0.05; done
  kill -"$sig" "$SERVE_PID"
  rc=0
  { wait "$SERVE_PID"; } 2>/dev/null || rc=$?
  SERVE_PID=""
  stop_load
  if [[ $sig == TERM ]]; then ((rc == 0)) || fail "hwca serve exited $rc after SIGTERM"; fi
  audit_ok
  check_replies 1
done
# Restarted on the same home, it issues.
serve
code=$(curl -sS --max-time 15 --cacert tls.pem --cert n.pem --key n.key -H "Content-Type: application/pkcs10" \
  --data-binary @n.b64 -o last.p7 -w '%{http_code}' "$BASE/.well-known/est/simplereenroll")
[[ $code == 200 ]] || fail "a renewal after the restarts: $code $(cat last.p7)"
est_serve_stop
audit_ok
echo "ok: hwca serve through token faults, a hanging call, SIGKILL and SIGTERM: $(wc -l <"$HANDED") certificates handed out, all recorded"
