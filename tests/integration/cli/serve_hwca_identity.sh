#!/usr/bin/env bash
# The EST server's own TLS identity and its service unit:
#  1. two homes whose CAs have the same name ("root") in one token get a TLS key each (the
#     label carries the CA key's digest), and each server is trusted by its own CA alone;
#  2. a restarted server presents the certificate it was issued before, while that one is
#     still good for it; other names, a revoked or unreadable kept certificate make it
#     issue a new one (and say why);
#  3. a wrong PIN ends `hwca serve` with the exit code the shipped unit never restarts on,
#     having issued nothing (node_swtpm_enroll.sh runs `systemd-analyze verify` on the units).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=est_lib.sh
source "$here/est_lib.sh"
need curl sqlite3
repo=$(cd "$here/../../.." && pwd)
UNIT=$repo/scripts/systemd/hwca-serve.service.in

_serve_exit() {
  local rc=$?
  set +e
  est_serve_stop
  est_serve_logs
  (exit "$rc")
  _cleanup
}
trap _serve_exit EXIT

HOME_A=$WORK/home-a HOME_B=$WORK/home-b
for h in a b; do
  HWCA_HOME=$WORK/home-$h hwca_pin ca init --name root --key "$(key_uri "root-$h")" \
    --generate ec-p256 --subject "/CN=hwca identity test $h" >/dev/null
done

# serve_in HOME [serve options...]: start the server of HOME's CA root; sets LABEL (the TLS
# key's object), SERIAL (its certificate's) and NOTE (how the certificate was had).
serve_in() {
  local home=$1
  shift
  HWCA_HOME=$home est_serve_start "$@"
  local re="\(TLS certificate ([0-9a-f]{40}) for [^,]*(, [^,]*)*, key pkcs11:[^ ]*object=([a-z0-9-]+)"
  re+="( \(made now\))?, (.*)\)$"
  [[ $SERVE_LINE =~ $re ]] || fail "hwca serve's line: $SERVE_LINE"
  SERIAL=${BASH_REMATCH[1]} LABEL=${BASH_REMATCH[3]} NOTE=${BASH_REMATCH[5]}
}
# handshake HOME: curl reaches the running server trusting HOME's CA certificate alone.
handshake() {
  curl -sS --max-time 10 --cacert "$1/cas/root/cert.pem" -o /dev/null \
    "https://127.0.0.1:$PORT/healthz" 2>>"$STDERR_LOG"
}
server_certs() { sqlite3 "$1/issuance.db" "SELECT count(*) FROM certs WHERE profile='server'"; }

# --- 1. one TLS key per home ------------------------------------------------------------------
serve_in "$HOME_A"
LABEL_A=$LABEL SERIAL_A=$SERIAL
[[ $LABEL_A =~ ^root-est-tls-[0-9a-f]{8}$ ]] || fail "home A's TLS key label: $LABEL_A"
[[ $NOTE == "issued now" ]] || fail "home A's first start: $NOTE"
handshake "$HOME_A" || fail "home A's server is not trusted by home A's CA"
! handshake "$HOME_B" || fail "home A's server is trusted by home B's CA"
est_serve_stop

serve_in "$HOME_B"
LABEL_B=$LABEL
[[ $LABEL_B =~ ^root-est-tls-[0-9a-f]{8}$ ]] || fail "home B's TLS key label: $LABEL_B"
[[ $LABEL_B != "$LABEL_A" ]] || fail "two homes share the TLS key $LABEL_A"
handshake "$HOME_B" || fail "home B's server is not trusted by home B's CA"
est_serve_stop
# Two keys in the token, with different public keys.
pub_a=$(hwca_pin key show --key "$(key_uri "$LABEL_A")" | grep -A3 'BEGIN PUBLIC KEY')
pub_b=$(hwca_pin key show --key "$(key_uri "$LABEL_B")" | grep -A3 'BEGIN PUBLIC KEY')
[[ -n $pub_a && $pub_a != "$pub_b" ]] || fail "the two TLS keys are not two keys: $pub_a / $pub_b"

# --- 2. a restart keeps its certificate while it is good --------------------------------------
serve_in "$HOME_A"
[[ $SERIAL == "$SERIAL_A" && $NOTE == "kept from the last start" ]] ||
  fail "a restart issued $SERIAL ($NOTE), not kept $SERIAL_A"
handshake "$HOME_A" || fail "the kept certificate does not serve"
est_serve_stop
[[ $(server_certs "$HOME_A") == 1 ]] || fail "home A holds $(server_certs "$HOME_A") server certificates"

serve_in "$HOME_A" --tls-san ca.example.internal
[[ $SERIAL != "$SERIAL_A" && $NOTE == "issued now: the kept one is for other names" ]] ||
  fail "new names: $SERIAL ($NOTE)"
SERIAL_A=$SERIAL
est_serve_stop

HWCA_HOME=$HOME_A hwca_pin revoke --ca root "$SERIAL_A" >/dev/null
serve_in "$HOME_A" --tls-san ca.example.internal
[[ $SERIAL != "$SERIAL_A" && $NOTE == "issued now: the kept one is revoked" ]] ||
  fail "revoked: $SERIAL ($NOTE)"
est_serve_stop

echo "not a certificate" >"$HOME_A/cas/root/est-tls.pem"
serve_in "$HOME_A"
assert_contains "$NOTE" "issued now: the kept one cannot be read" "an unreadable kept certificate"
handshake "$HOME_A" || fail "the certificate issued over a bad kept one does not serve"
est_serve_stop
openssl x509 -in "$HOME_A/cas/root/est-tls.pem" -noout >/dev/null ||
  fail "the kept certificate was not replaced"

# --- 3. a wrong PIN is not retried by the unit --------------------------------------------------
before=$(server_certs "$HOME_A")
WRONG=$WORK/wrong-pin
(umask 077 && echo 99999999 >"$WRONG")
rc=0
HWCA_HOME=$HOME_A "$HWCA_BIN" --pin-source "file:$WRONG" serve --ca root \
  --listen 127.0.0.1:0 >/dev/null 2>"$WORK/wrong.err" || rc=$?
cat "$WORK/wrong.err" >>"$STDERR_LOG"
((rc == 4)) || fail "a wrong PIN: exit $rc, not 4: $(cat "$WORK/wrong.err")"
[[ $(server_certs "$HOME_A") == "$before" ]] || fail "a start with a wrong PIN issued a certificate"
prevent=$(sed -n 's/^RestartPreventExitStatus=//p' "$UNIT")
[[ " $prevent " == *" $rc "* ]] || fail "the unit restarts on exit $rc (RestartPreventExitStatus=$prevent)"
grep -qx 'Restart=on-failure' "$UNIT" || fail "the unit does not restart on failure"
grep -qx 'StartLimitBurst=5' "$UNIT" || fail "the unit has no start limit"

# --- 4. a certificate remote nodes cannot verify is warned of -----------------------------------
# (A CA that does not exist stops each run right after the options are checked: nothing
# listens.) Listening beyond loopback with the default names warns; with --tls-san, or on
# loopback, it does not.
serve_warning() {
  HWCA_HOME=$HOME_A "$HWCA_BIN" serve --ca nosuch "$@" >/dev/null 2>"$WORK/warn.err" || true
  cat "$WORK/warn.err" >>"$STDERR_LOG"
  grep 'warning' "$WORK/warn.err" || true
}
warned=$(serve_warning --listen 0.0.0.0:0)
assert_contains "$warned" "hwca serve: warning: listening on 0.0.0.0:0 with a TLS certificate for localhost and 127.0.0.1 only" "serve on 0.0.0.0"
assert_contains "$warned" "give --tls-san" "serve on 0.0.0.0"
[[ -z $(serve_warning --listen 0.0.0.0:0 --tls-san ca.example.test) ]] || fail "a warning despite --tls-san"
[[ -z $(serve_warning --listen 127.0.0.1:0) ]] || fail "a warning on loopback"
[[ -z $(serve_warning --listen '[::1]:0') ]] || fail "a warning on ::1"

echo "ok: one TLS key per home ($LABEL_A, $LABEL_B), kept certificate reused and replaced" \
  "when it must be, a wrong PIN exits 4 which the unit does not retry, default names on" \
  "0.0.0.0 warned of"
