#!/usr/bin/env bash
# `hwca serve` killed (SIGKILL) under load, three times on the same home, then stopped with
# SIGTERM under load: four clients renew in a loop over mutual TLS, and the server is killed
# once some replies are through. After each kill the home is consistent and the server
# starts again on it: every certificate a client received (a reply of 200) is in the
# database and audited as cert.issued, no serial is used twice, and `hwca audit verify`
# passes; the one gap it may name is a certificate recorded whose audit line the kill
# prevented, which no client received (then it is revoked, as verify advises, and verify
# passes). SIGTERM lets the requests in flight finish: exit 0, and every reply is whole.
# (est_curl_enroll.sh also stops a server with SIGTERM under load.)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=est_lib.sh
source "$here/est_lib.sh"
# shellcheck source=resource_lib.sh
source "$here/resource_lib.sh"
need curl jq
_kill_exit() {
  local rc=$? pid
  set +e
  touch loop/stop 2>/dev/null
  for pid in "${BG_PIDS[@]}"; do wait "$pid"; done
  est_serve_stop
  est_serve_logs
  (exit "$rc")
  _cleanup
}
trap _kill_exit EXIT

export HWCA_HOME=$WORK/home
ROOT=$HWCA_HOME/cas/root/cert.pem
hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 --subject /CN=kill-root \
  >/dev/null
HANDED=$WORK/handed
: >"$HANDED"

# under_load SIGNAL: four clients renew; once eight replies are through, SIGNAL the server;
# the clients stop; every reply of 200 holds one certificate, which joins HANDED. Sets OK.
under_load() {
  local w i rc code s
  load_start c1
  for _ in $(seq 300); do
    (($(load_count) >= 8)) && break
    sleep 0.05
  done
  (($(load_count) >= 8)) || fail "the clients got no eight replies in 15 s"
  kill "-$1" "$SERVE_PID"
  rc=0
  { wait "$SERVE_PID"; } 2>/dev/null || rc=$?
  SERVE_EXIT=$rc SERVE_PID=""
  load_stop
  OK=0
  while read -r w i rc code; do
    if [[ $rc == 0 && $code == 200 ]]; then
      s=$(p7_serial "loop/$w.$i.body")
      echo "$s" >>"$HANDED"
      OK=$((OK + 1))
    elif [[ $rc == 0 ]]; then
      fail "$1: renewal $w.$i: HTTP $code: $(cat "loop/$w.$i.body")"
    else
      # No connection (7), or one the server's end cut (35, 52, 55, 56): nothing received.
      [[ $rc == 7 || $rc == 35 || $rc == 52 || $rc == 55 || $rc == 56 ]] ||
        fail "$1: renewal $w.$i: curl exit $rc: $(cat "loop/$w.$i.err")"
    fi
  done < <(cat loop/*.log)
  ((OK >= 8)) || fail "$1: only $OK renewals were received"
}

est_serve_start --workers 4
BASE=https://127.0.0.1:$PORT
enroll_client c1
serial_of c1.pem >>"$HANDED"
kills=0 received=0
for round in 1 2 3; do
  under_load KILL
  ((SERVE_EXIT == 137)) || fail "round $round: hwca serve exited $SERVE_EXIT after SIGKILL"
  all_recorded "$HANDED"
  consistent_after_outage "$HANDED" ""
  kills=$((kills + 1)) received=$((received + OK))
  est_serve_start --workers 4
  BASE=https://127.0.0.1:$PORT
done
under_load TERM
((SERVE_EXIT == 0)) || fail "hwca serve exited $SERVE_EXIT after SIGTERM: $(tail -n 3 "$SERVE_ERR")"
[[ $(tail -n 1 "$SERVE_OUT") == "hwca serve: stopped" ]] || fail "hwca serve's last line: $(tail -n 1 "$SERVE_OUT")"
all_recorded "$HANDED"
audit_verified
echo "ok: hwca serve killed $kills times and stopped once under load: $((received + OK))" \
  "certificates received, each recorded and audited once; the home consistent after each" \
  "($WITHHELD recorded but killed before their audit line, never received, revoked)"
