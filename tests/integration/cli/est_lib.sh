# shellcheck shell=bash disable=SC2034  # SERVE_* and PORT are the sourcing script's to use
# `hwca serve` for the EST tests; source it after lib.sh.
#   est_serve_start [serve options...]  start `hwca serve --ca root --listen 127.0.0.1:0`
#                       (PIN from $PIN_FILE) in the background and wait (10 s at most) for
#                       its one line on stdout; sets SERVE_PID, SERVE_LINE, SERVE_OUT,
#                       SERVE_ERR and PORT (the port it chose).
#   est_serve_stop      stop it (TERM, then KILL after 5 s) and reap it quietly (safe under
#                       set -e).
#   est_serve_logs      append every server's stderr to $STDERR_LOG, for lib.sh's check that
#                       no PIN is in any of them.
# The sourcing script calls est_serve_stop and est_serve_logs from its EXIT handler.
SERVE_PID=""
SERVE_RUNS=0

est_serve_start() {
  SERVE_RUNS=$((SERVE_RUNS + 1))
  SERVE_OUT=$WORK/serve$SERVE_RUNS.out SERVE_ERR=$WORK/serve$SERVE_RUNS.err
  "$HWCA_BIN" --pin-source "file:$PIN_FILE" serve --ca root --listen 127.0.0.1:0 "$@" \
    >"$SERVE_OUT" 2>"$SERVE_ERR" &
  SERVE_PID=$!
  SERVE_LINE=""
  for _ in $(seq 100); do
    # A whole line: read succeeds only once its newline is there.
    IFS= read -r SERVE_LINE <"$SERVE_OUT" && break
    SERVE_LINE=""
    kill -0 "$SERVE_PID" 2>/dev/null || fail "hwca serve exited at start: $(cat "$SERVE_ERR")"
    sleep 0.1
  done
  [[ -n $SERVE_LINE ]] || fail "hwca serve printed no line in 10 s; stderr: $(cat "$SERVE_ERR")"
  local re="^hwca serve: CA 'root' on https://127\.0\.0\.1:([0-9]+)/\.well-known/est/ "
  [[ $SERVE_LINE =~ $re ]] || fail "hwca serve's line: $SERVE_LINE"
  PORT=${BASH_REMATCH[1]}
  ((PORT > 0 && PORT < 65536)) || fail "hwca serve: port $PORT"
}

est_serve_stop() {
  [[ -n $SERVE_PID ]] || return 0
  kill "$SERVE_PID" 2>/dev/null
  for _ in $(seq 50); do
    kill -0 "$SERVE_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$SERVE_PID" 2>/dev/null || true
  { wait "$SERVE_PID"; } 2>/dev/null || true
  SERVE_PID=""
}

est_serve_logs() {
  local f
  for f in "$WORK"/serve*.err; do [[ -f $f ]] && cat "$f" >>"$STDERR_LOG"; done
  return 0
}
