# shellcheck shell=bash disable=SC2034  # PG_*, INST_* and CA_PEM are the sourcing script's
# Several `hwca serve` instances on one PostgreSQL database and one SoftHSM2 token, for the
# multi-instance scripts; source it after lib.sh.
#   pg_shared_db        a fresh database on the tests' shared server (ctest's fixture
#                       'postgres', HWCA_TEST_PG_DIR), dropped on exit
#   pg_private_server   a server of the script's own ($HWCA_PG_FIXTURE start $PG_PRIVATE),
#                       that it may restart or kill; stopped and removed on exit
#   Both set PG_URL (the --database URL), PG_CONN (psql's conninfo of that database).
#   pg_sql SQL          psql -tA of SQL on that database (one value a line)
#   p11kit_start        p11-kit's server serving $TOKEN from the SoftHSM2 module, in a process
#                       group of its own (killed on exit); every hwca from then on reaches the
#                       token through p11-kit-client.so
#   ca_make NAME        `hwca ca init` of CA NAME (ec-p256, key made in the token) in home 1;
#                       CA_PEM its certificate
#   inst_start I [serve options...]   `hwca serve --ca root` of home I ($WORK/home-I, on
#                       the database) on a free port; waits for its line: INST_PID[I],
#                       INST_PORT[I], INST_BASE[I], INST_LINE[I] (the line). Homes other
#                       than 1 adopt the CA from the database.
#   inst_kill I [SIGNAL]   signal instance I (TERM by default) and reap it
#   inst_stop I         SIGTERM instance I; fails unless it exits 0 and says "stopped"
#   three_instances DB  DB (pg_shared_db or pg_private_server), p11kit_start, CA 'root' made
#                       in home 1 and instances 1 - 3 started (--workers 16)
#   hwca_home I ARGS... hwca --home $WORK/home-I --pin-source file:$PIN_FILE ARGS...
# Everything started here is stopped on exit, even on failure: lib.sh's _cleanup calls
# cleanup_hook, which this file defines: it stops the loads, the instances, p11-kit's server
# and the database (a script that needs more defines pg_cleanup_more).
# shellcheck source=est_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/est_lib.sh"  # serve_await_line
need psql curl p11-kit jq
T_START=$SECONDS  # for the scripts' timings
P11KIT_CLIENT=$(find_lib p11-kit-client.so)
[[ -n $P11KIT_CLIENT ]] || skip "p11-kit-client.so is not installed"

PG_DB="" PG_ADMIN="" PG_PRIVATE="" PG_PARENT="" P11KIT_PID=""
declare -a INST_PID=() INST_PORT=() INST_BASE=() INST_LINE=()

cleanup_hook() {
  local i f
  load_stop_all || true
  if declare -F pg_cleanup_more >/dev/null; then pg_cleanup_more || true; fi
  for i in "${!INST_PID[@]}"; do inst_kill "$i"; done
  for f in "$WORK"/serve-*.err; do
    [[ -f $f ]] || continue
    cat "$f" >>"$STDERR_LOG"
    # A failed test (lib.sh's _cleanup, which calls this, holds its exit status in rc): what
    # the instances said, the refusals' causes among it.
    if [[ ${rc:-0} != 0 && -s $f ]]; then
      echo "--- the last lines of $(basename "$f"):" >&2
      tail -n 8 "$f" | cut -c 1-400 >&2
    fi
  done
  if [[ -n $P11KIT_PID ]]; then
    kill -KILL -- "-$P11KIT_PID" 2>/dev/null
    { wait "$P11KIT_PID"; } 2>/dev/null
  fi
  if [[ -n $PG_DB ]]; then
    psql -qX "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1
  fi
  if [[ -n $PG_PRIVATE ]]; then "$HWCA_PG_FIXTURE" stop "$PG_PRIVATE" >/dev/null 2>&1; fi
  if [[ -n $PG_PARENT ]]; then rm -rf "$PG_PARENT"; fi
  return 0
}

# _pg_url DIR PORT DB: the URL of database DB on the server whose socket is in DIR.
_pg_url() {
  PG_URL="postgresql:///$3?host=$(printf '%s' "$1" | sed 's|/|%2F|g')&port=$2&user=hwca"
  PG_CONN="host=$1 port=$2 user=hwca dbname=$3"
}

pg_shared_db() {
  [[ -n ${HWCA_TEST_PG_DIR:-} && -f ${HWCA_TEST_PG_DIR:-}/port ]] ||
    fail "no PostgreSQL server: run under ctest (the 'postgres' fixture sets HWCA_TEST_PG_DIR)"
  local port
  port=$(cat "$HWCA_TEST_PG_DIR/port")
  PG_ADMIN="host=$HWCA_TEST_PG_DIR port=$port user=hwca dbname=postgres"
  local db=t_cli_$$_$RANDOM
  psql -qX "$PG_ADMIN" -c "CREATE DATABASE $db" >/dev/null || fail "cannot create database $db"
  PG_DB=$db
  _pg_url "$HWCA_TEST_PG_DIR" "$port" "$db"
}

pg_private_server() {
  [[ -n ${HWCA_PG_FIXTURE:-} && -x ${HWCA_PG_FIXTURE:-} ]] ||
    fail "HWCA_PG_FIXTURE must name hwca_pg_fixture (run under ctest)"
  # A folder of its own that others may enter: as root, the fixture runs the server as user
  # postgres, who must reach it ($WORK is 0700).
  PG_PARENT=$(mktemp -d "${TMPDIR:-/tmp}/hwca-cli-pg.XXXXXXXX")
  chmod 755 "$PG_PARENT"
  PG_PRIVATE=$PG_PARENT/pg
  "$HWCA_PG_FIXTURE" start "$PG_PRIVATE" >"$WORK/pg-start.out" 2>&1 ||
    fail "cannot start a PostgreSQL server: $(cat "$WORK/pg-start.out")"
  local port
  port=$(cat "$PG_PRIVATE/port")
  psql -qX "host=$PG_PRIVATE port=$port user=hwca dbname=postgres" -c "CREATE DATABASE hwca" \
    >/dev/null || fail "cannot create the database"
  _pg_url "$PG_PRIVATE" "$port" hwca
}

pg_sql() { psql -qXtA "$PG_CONN" -c "$1"; }

p11kit_start() {
  local sock=$WORK/p11kit.sock
  # setsid: the server and the p11-kit-remote it forks per client are one process group.
  setsid p11-kit server --provider "$SOFTHSM_MODULE" -f -n "$sock" "pkcs11:token=$TOKEN" \
    >"$WORK/p11kit.out" 2>"$WORK/p11kit.err" &
  P11KIT_PID=$!
  for _ in $(seq 100); do
    [[ -S $sock ]] && break
    kill -0 "$P11KIT_PID" 2>/dev/null || fail "p11-kit server exited: $(cat "$WORK/p11kit.err")"
    sleep 0.1
  done
  [[ -S $sock ]] || fail "p11-kit server made no socket in 10 s: $(cat "$WORK/p11kit.err")"
  export HWCA_PKCS11_MODULE=$P11KIT_CLIENT P11_KIT_SERVER_ADDRESS=unix:path=$sock
}

hwca_home() {
  local i=$1
  shift
  hwca --home "$WORK/home-$i" --pin-source "file:$PIN_FILE" "$@"
}

# hwca_to PREFIX I ARGS...: hwca of home I (PIN from $PIN_FILE) with stdout in PREFIX.out,
# stderr in PREFIX.err and its exit status in PREFIX.rc; safe to run several at once in the
# background (lib.sh's hwca is not: its stderr goes through one file). hwca_to_logs FILE...
# appends those stderr files to $STDERR_LOG afterwards.
hwca_to() {
  local prefix=$1 i=$2 rc=0
  shift 2
  "$HWCA_BIN" --home "$WORK/home-$i" --pin-source "file:$PIN_FILE" "$@" >"$prefix.out" \
    2>"$prefix.err" || rc=$?
  echo "$rc" >"$prefix.rc"
}
hwca_to_logs() {
  local f
  for f in "$@"; do cat "$f" >>"$STDERR_LOG"; done
}

ca_make() {
  local out
  out=$(hwca_home 1 --database "$PG_URL" ca init --name "$1" --key "$(key_uri "$1")" \
    --generate ec-p256 --subject "/CN=hwca multi-instance $1")
  assert_contains "$out" "certificate: in the shared database" "ca init"
  CA_PEM=$WORK/ca.pem
  hwca_home 1 ca show "$1" --pem >"$CA_PEM"
}

inst_start() {
  local i=$1 out=$WORK/serve-$1.out err=$WORK/serve-$1.err
  shift
  [[ -f $WORK/home-$i/config.yaml ]] || hwca --home "$WORK/home-$i" --database "$PG_URL" ca list >/dev/null
  # Emptied here, not only by the shell in the background, which may open it after the reads
  # below began: a restarted instance's line is never the last run's.
  : >"$out"
  "$HWCA_BIN" --home "$WORK/home-$i" --pin-source "file:$PIN_FILE" serve --ca root \
    --listen 127.0.0.1:0 "$@" >"$out" 2>"$err" &
  INST_PID[i]=$!
  serve_await_line "${INST_PID[i]}" "$out" "$err" 15 "instance $i"
  INST_PORT[i]=$PORT INST_LINE[i]=$SERVE_LINE
  INST_BASE[i]=https://127.0.0.1:${INST_PORT[i]}
}

inst_stop() {
  local i=$1 pid=${INST_PID[$1]} rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  unset "INST_PID[$i]"
  ((rc == 0)) || fail "instance $i exited $rc after SIGTERM: $(cat "$WORK/serve-$i.err")"
  [[ $(tail -n 1 "$WORK/serve-$i.out") == "hwca serve: stopped" ]] || fail "instance $i's last line"
}

three_instances() {
  "$1"
  p11kit_start
  ca_make root
  local i
  for i in 1 2 3; do inst_start "$i" --workers 16; done
}

inst_kill() {
  local i=$1 sig=${2:-TERM} pid=${INST_PID[$1]:-} dog
  [[ -n $pid ]] || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  # Reaped by wait at once (bash reports a job killed by a signal that it reaps elsewhere),
  # with a watchdog that kills it after 5 s.
  (
    sleep 5
    kill -KILL "$pid" 2>/dev/null
  ) &
  dog=$!
  { wait "$pid"; } 2>/dev/null || true
  kill "$dog" 2>/dev/null || true
  { wait "$dog"; } 2>/dev/null || true
  unset "INST_PID[$i]"
  return 0
}

# --- nodes and their requests --------------------------------------------------------------

# node_new NAME: NAME.key (EC P-256) and NAME.b64, its kubelet-client request (base64 DER,
# as EST clients send it), in the current folder ($WORK).
node_new() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
    -subj "/O=system:nodes/CN=system:node:$1" -outform DER -out "$1.der" 2>/dev/null ||
    fail "cannot make node $1's request"
  openssl base64 -in "$1.der" -out "$1.b64"
}

# est_post I OP NAME OUT [curl options...]: POST NAME.b64 to instance I's
# /.well-known/est/OP; the reply in OUT (curl's stderr in OUT.err), its status in CODE
# (000 when none), curl's exit status in CURL_RC.
est_post() {
  local i=$1 op=$2 name=$3 out=$4
  shift 4
  CURL_RC=0
  CODE=$(curl -sS --max-time 30 --cacert "$CA_PEM" -H "Content-Type: application/pkcs10" \
    --data-binary "@$name.b64" -o "$out" -w '%{http_code}' "$@" \
    "${INST_BASE[i]}/.well-known/est/$op" 2>"$out.err") || CURL_RC=$?
  CODE=${CODE:-000}
}

# reply_cert BODY PEM: the certificate of the base64 certs-only PKCS#7 in BODY (an EST reply)
# to PEM, by openssl; false unless it holds exactly one.
reply_cert() {
  local b64 pem
  b64=$(<"$1")
  pem=$(printf -- '-----BEGIN PKCS7-----\n%s\n-----END PKCS7-----\n' "${b64//$'\r'/}" |
    openssl pkcs7 -print_certs 2>"$2.err") || return 1
  [[ $(grep -c -- '-----BEGIN CERTIFICATE-----' <<<"$pem") == 1 ]] || return 1
  printf '%s\n' "$pem" >"$2"
}

# --- load: clients renewing in the background ----------------------------------------------

# load_start DIR WORKERS REQUESTS INSTANCE...: WORKERS clients in the background, each
# sending up to REQUESTS renewals (simplereenroll over mutual TLS, as node LOAD_NODES[k]
# with k.pem and k.key), its request n to INSTANCE[(w + n) % count], until DIR/stop exists;
# LOAD_PAUSE seconds (default 0) between two requests of a client. Per request a line in
# DIR/log.W: "ID INSTANCE CURL_RC CODE END" (END: $EPOCHREALTIME); a reply of 200 is
# decoded at once to DIR/ID.pem (CODE "bad" if it does not hold exactly one certificate).
LOAD_PIDS=()
_load_client() {
  local dir=$1 w=$2 requests=$3 n node inst id
  shift 3
  local -a inst_list=("$@")
  for ((n = 0; n < requests; n++)); do
    [[ -e $dir/stop ]] && break
    inst=${inst_list[(w + n) % ${#inst_list[@]}]}
    node=${LOAD_NODES[(w + n) % ${#LOAD_NODES[@]}]}
    id=$w.$n
    est_post "$inst" simplereenroll "$node" "$dir/$id.body" --cert "$node.pem" --key "$node.key"
    if [[ $CODE == 200 ]] && ! reply_cert "$dir/$id.body" "$dir/$id.pem"; then CODE=bad; fi
    echo "$id $inst $CURL_RC $CODE $EPOCHREALTIME" >>"$dir/log.$w"
    if [[ -n ${LOAD_PAUSE:-} ]]; then sleep "$LOAD_PAUSE"; fi
  done
}
load_start() {
  local dir=$1 workers=$2 requests=$3 w
  shift 3
  mkdir -p "$dir"
  for ((w = 0; w < workers; w++)); do
    _load_client "$dir" "$w" "$requests" "$@" &
    LOAD_PIDS+=("$!")
  done
}
# load_count DIR: requests answered so far.
load_count() { cat "$1"/log.* 2>/dev/null | wc -l; }
# load_wait DIR [stop]: wait for the clients (told to stop first with "stop").
load_wait() {
  local pid
  if [[ ${2:-} == stop ]]; then touch "$1/stop"; fi
  for pid in "${LOAD_PIDS[@]}"; do wait "$pid" || fail "a load client failed"; done
  LOAD_PIDS=()
}
# load_stop_all: for the EXIT handler.
load_stop_all() {
  local pid
  for pid in "${LOAD_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${LOAD_PIDS[@]}"; do { wait "$pid"; } 2>/dev/null || true; done
  LOAD_PIDS=()
}

# --- what was handed out, recorded and audited ---------------------------------------------

# serials_of PEM...: the serial of each certificate (lower-case hex, as hwca writes them),
# one a line, read by openssl from all of them at once.
serials_of() {
  cat "$@" >"$WORK/serials.pem"
  openssl crl2pkcs7 -nocrl -certfile "$WORK/serials.pem" |
    openssl pkcs7 -print_certs -text -noout |
    awk '/^ *Serial Number:/ {
      if ($0 ~ /\(0x/) { s = $0; sub(/.*\(0x/, "", s); sub(/\).*/, "", s) }
      else { getline s; gsub(/[ :]/, "", s) }
      print tolower(s) }'
}

# certs_verify PEM...: openssl verifies each as a client certificate of the CA ($CA_PEM).
certs_verify() {
  local out n
  out=$(openssl verify -CAfile "$CA_PEM" -purpose sslclient "$@" 2>&1) ||
    fail "openssl verify: $(grep -v ': OK$' <<<"$out" | head -n 5)"
  n=$(grep -c ': OK$' <<<"$out")
  ((n == $#)) || fail "openssl verify: $n of $# certificates OK: $(grep -v ': OK$' <<<"$out" | head -n 5)"
}

# db_serials: the serials of CA root's certificates in the database (its own record left out);
# audited_serials: those of the cert.issued lines of the audit chain (a serial twice stays twice).
db_serials() { pg_sql "SELECT serial FROM certs WHERE ca = 'root' AND profile <> 'root-ca' ORDER BY serial"; }
audited_serials() {
  pg_sql "SELECT line::json->'data'->>'serial' FROM audit_events
          WHERE line::json->>'event' = 'cert.issued' ORDER BY 1"
}

# accounted SERIAL-FILE WHAT: every serial of SERIAL-FILE (one a line, handed out with a 200)
# is unique, in the database and audited; the database's certificates and the audit chain's
# cert.issued lines are one set, each once; `hwca audit verify` (home 1) finds the chain
# intact and everything accounted for.
accounted() {
  local file=$1 what=$2 dup missing out rc=0
  dup=$(sort "$file" | uniq -d)
  [[ -z $dup ]] || fail "$what: serials handed out twice: $(tr '\n' ' ' <<<"$dup")"
  db_serials >"$WORK/db.serials"
  audited_serials >"$WORK/audited.serials"
  dup=$(uniq -d "$WORK/audited.serials")
  [[ -z $dup ]] || fail "$what: serials audited twice: $(tr '\n' ' ' <<<"$dup")"
  missing=$(sort "$file" | comm -23 - "$WORK/db.serials")
  [[ -z $missing ]] || fail "$what: handed out but not in the database: $(tr '\n' ' ' <<<"$missing")"
  missing=$(sort "$file" | comm -23 - "$WORK/audited.serials")
  [[ -z $missing ]] || fail "$what: handed out but not audited: $(tr '\n' ' ' <<<"$missing")"
  out=$("$HWCA_BIN" --home "$WORK/home-1" audit verify 2>&1) || rc=$?
  echo "$out" >>"$STDERR_LOG"
  cmp -s "$WORK/db.serials" "$WORK/audited.serials" ||
    fail "$what: the database and the audit chain differ (< database only, > audit only): $(
      diff "$WORK/db.serials" "$WORK/audited.serials" | grep '^[<>]' | tr '\n' ' ')(of them, handed out: $(
      diff "$WORK/db.serials" "$WORK/audited.serials" | sed -n 's/^[<>] //p' | grep -cxFf - "$file"));" \
      "hwca audit verify exited $rc: $out"
  ((rc == 0)) || fail "$what: hwca audit verify exited $rc: $out"
  assert_contains "$out" "the hash chain is intact" "$what: audit verify"
  assert_contains "$out" "every certificate, revocation and bootstrap token is accounted for" \
    "$what: audit verify"
  AUDIT_VERIFY=$out
}
