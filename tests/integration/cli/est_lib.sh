# shellcheck shell=bash disable=SC2034  # SERVE_* and PORT are the sourcing script's to use
# `hwca serve` for the EST tests; source it after lib.sh.
#   est_serve_start [serve options...]  start `hwca serve --ca root --listen 127.0.0.1:0`
#                       (PIN from $PIN_FILE) in the background and wait (10 s at most) for
#                       its one line on stdout; sets SERVE_PID, SERVE_LINE, SERVE_OUT,
#                       SERVE_ERR and PORT (the port it chose).
#   serve_await_line PID OUT ERR SECONDS WHO   that wait, for a server started otherwise.
#   est_serve_stop      stop it (TERM, then KILL after 5 s) and reap it quietly (safe under
#                       set -e).
#   est_serve_logs      append every server's stderr to $STDERR_LOG, for lib.sh's check that
#                       no PIN is in any of them.
# The sourcing script calls est_serve_stop and est_serve_logs from its EXIT handler.
# For the scripts that run hwca-node ($HWCA_NODE_BIN, its TPM from $HWCA_TCTI) against it:
#   node CMD ARGS...    `hwca-node CMD ARGS...`: stdout in OUT, stderr (kept in $STDERR_LOG)
#                       in ERR, exit status in RC
#   refused_by CODE TEXT WHAT   the last node run exited CODE with one stderr line
#                       "hwca-node: ..." holding TEXT (no control characters), nothing on stdout
#   new_token_file FILE NODE [bootstrap create options...]   a new bootstrap token of NODE in
#                       FILE (mode 0600; TOKEN_ID its id, TOKENS every token made)
#   token_state ID      valid, used, revoked or expired
#   tokens_unlogged     no token of TOKENS has its secret in $STDERR_LOG, the audit log or
#                       the last server's stderr
#   serial_of PEM, subject_of PEM, pub_of_cert PEM (SHA-256 of its SubjectPublicKeyInfo),
#   sum_of FILE, node_dir_state (name, inode and digest of each file of $NODE)
#   cert_field SERIAL FIELD   FIELD's value in `hwca cert show --ca root SERIAL` (empty if absent)
#   audited SERIAL PROFILE    the audit log has SERIAL's cert.issued line, with PROFILE (in AUDITED)
#   node_cert PEM [NODE]      a kubelet-client certificate of NODE (default worker-1), subject
#                       O = system:nodes, CN = system:node:NODE, that verifies against $ROOT
#   est_rejected REASON       hwca_est_rejected_total{reason="REASON"} of the server at
#                       $SERVER (--ca-cert $ROOT), 0 when not yet counted
#   est_node_exit       an EXIT handler for those that also source k8s_lib.sh: stops the
#                       server and keeps its logs, then runs k8s_lib.sh's handler (trap it
#                       before sourcing swtpm_lib.sh, which chains its own in front)
SERVE_PID=""
SERVE_RUNS=0

est_serve_start() {
  SERVE_RUNS=$((SERVE_RUNS + 1))
  SERVE_OUT=$WORK/serve$SERVE_RUNS.out SERVE_ERR=$WORK/serve$SERVE_RUNS.err
  "$HWCA_BIN" --pin-source "file:$PIN_FILE" serve --ca root --listen 127.0.0.1:0 "$@" \
    >"$SERVE_OUT" 2>"$SERVE_ERR" &
  SERVE_PID=$!
  serve_await_line "$SERVE_PID" "$SERVE_OUT" "$SERVE_ERR" 10 "hwca serve"
}

# serve_await_line PID OUT ERR SECONDS WHO: waits for `hwca serve --ca root` (PID) to print
# its one line on OUT, failing as WHO with its stderr (ERR) if it exits first or prints none
# in SECONDS; checks the line and sets SERVE_LINE and PORT (the port it chose).
serve_await_line() {
  local pid=$1 out=$2 err=$3 seconds=$4 who=$5
  SERVE_LINE=""
  for _ in $(seq $((seconds * 10))); do
    # A whole line: read succeeds only once its newline is there.
    IFS= read -r SERVE_LINE <"$out" && break
    SERVE_LINE=""
    kill -0 "$pid" 2>/dev/null || fail "$who exited at start: $(cat "$err")"
    sleep 0.1
  done
  [[ -n $SERVE_LINE ]] || fail "$who printed no line in $seconds s; stderr: $(cat "$err")"
  local re="^hwca serve: CA 'root' on https://127\.0\.0\.1:([0-9]+)/\.well-known/est/ "
  [[ $SERVE_LINE =~ $re ]] || fail "$who's line: $SERVE_LINE"
  PORT=${BASH_REMATCH[1]}
  ((PORT > 0 && PORT < 65536)) || fail "$who: port $PORT"
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

node() {
  local cmd=$1
  shift
  RC=0
  "$HWCA_NODE_BIN" "$cmd" "$@" >"$WORK/node.out" 2>"$WORK/node.err" || RC=$?
  cat "$WORK/node.err" >>"$STDERR_LOG"
  OUT=$(cat "$WORK/node.out") ERR=$(cat "$WORK/node.err")
}

refused_by() {
  local code=$1 text=$2 what=$3
  [[ $RC == "$code" ]] || fail "$what: hwca-node exited $RC, expected $code; stderr: $ERR; stdout: $OUT"
  [[ $(wc -l <"$WORK/node.err") == 1 && $ERR == "hwca-node: "* ]] ||
    fail "$what: stderr is not one 'hwca-node: ' line: $ERR"
  [[ $ERR != *[[:cntrl:]]* ]] || fail "$what: stderr holds control characters: $(cat -A <<<"$ERR")"
  [[ $ERR == *"$text"* ]] || fail "$what: stderr lacks '$text': $ERR"
  [[ -z $OUT ]] || fail "$what: stdout: $OUT"
}

TOKENS=()
new_token_file() {
  local file=$1 node=$2 t
  shift 2
  t=$(hwca bootstrap create --node "$node" "$@" 2>/dev/null)  # stderr kept in STDERR_LOG
  [[ $t =~ ^[a-z0-9]{6}\.[a-z0-9]{32}$ ]] || fail "bootstrap create printed '$t'"
  TOKENS+=("$t")
  TOKEN_ID=${t%%.*}
  rm -f "$file"
  (umask 077 && printf '%s\n' "$t" >"$file")
}

token_state() {
  hwca bootstrap list --json | jq -r --arg id "$1" '.[] | select(.id == $id) | .state'
}

tokens_unlogged() {
  local t
  for t in "${TOKENS[@]}"; do
    ! grep -qF -e "${t#*.}" "$STDERR_LOG" "$HWCA_HOME/audit.log" "$SERVE_ERR" ||
      fail "a token's secret is in a log"
  done
}

serial_of() { local s; s=$(openssl x509 -in "$1" -noout -serial); s=${s#serial=}; echo "${s,,}"; }
subject_of() { local s; s=$(openssl x509 -in "$1" -noout -subject); echo "${s#subject=}"; }
pub_of_cert() { openssl x509 -in "$1" -noout -pubkey | pub_digest; }
sum_of() { sha256sum "$1" | cut -d' ' -f1; }
node_dir_state() { (cd "${NODE:?}" && for f in * .[!.]*; do [[ -e $f ]] && echo "$f $(stat -c %i "$f") $(sum_of "$f")"; done) || true; }

cert_field() { hwca cert show --ca root "$1" | sed -n "s/^$2: *//p"; }

audited() {
  AUDITED=$(grep -F "\"serial\":\"$1\"" "$HWCA_HOME/audit.log" | grep -F '"event":"cert.issued"') ||
    fail "certificate $1 is not audited as cert.issued"
  [[ $AUDITED == *"\"profile\":\"$2\""* ]] ||
    fail "certificate $1 is audited as $AUDITED, expected profile $2"
}

est_rejected() {
  local n
  n=$(curl -sS --max-time 15 --cacert "$ROOT" "$SERVER/metrics" |
    awk -v m="hwca_est_rejected_total{reason=\"$1\"}" '$1 == m {print $2}') ||
    fail "cannot read $SERVER/metrics"
  echo "${n:-0}"
}

est_node_exit() {
  local rc=$?
  set +e  # under -e, `(exit $rc)` below would end the handler before the cleanup
  est_serve_stop
  est_serve_logs
  (exit "$rc")
  _k8s_exit
}

node_cert() {
  local out want="O = system:nodes, CN = system:node:${2:-worker-1}"
  [[ $(subject_of "$1") == "$want" ]] || fail "$1: subject '$(subject_of "$1")', expected '$want'"
  out=$(openssl verify -CAfile "$ROOT" -purpose sslclient "$1" 2>&1) || fail "openssl verify $1: $out"
  [[ $out == "$1: OK" ]] || fail "openssl verify $1: $out"
}
