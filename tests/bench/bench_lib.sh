# Shared by the benchmark scripts (sourced): a SoftHSM2 token of the benchmark's own in the
# current folder, which must be the work folder $WORK, and the EST benchmarks' nodes and
# servers. The functions call the script's fail() on an error.
#
# bench_softhsm_token: tokens/, softhsm2.conf and a 0600 PIN file in $WORK; exports
# SOFTHSM2_CONF, HWCA_PKCS11_MODULE ($SOFTHSM_MODULE), HWCA_HOME ($WORK/home) and
# HWCA_PIN_SOURCE; sets PIN; initialises token 'bench'.
# bench_est_defaults SECONDS CONCURRENCY: the common options' defaults (warm-up 1 s, the
# work folder in $TMPDIR or /tmp, not kept, the first reply of each client verified, no JSON).
# bench_est_option ARGS...: the EST benchmarks' common option at the head of ARGS into the
# script's variables: --seconds (seconds), --warmup, --concurrency, --dir (parent), --keep,
# --verify-every (verify_every), --json (json_out); BENCH_SHIFT: how many words it took, 0
# if ARGS does not start with one of them.
# bench_est_check_options SCRIPT: those values checked (exit 2, SCRIPT's name first), --json
# made absolute.
# bench_est_tools: HWCA_BIN, HWCA_EST_LOAD (default build/bin/ of the checkout $root) and
# SOFTHSM_MODULE set and checked, with the tools the EST benchmarks run.
# bench_make_nodes N [HWCA-ARGS...]: in clients/, node-1..N each with a bootstrap token
# (`hwca [HWCA-ARGS] bootstrap create`), a P-256 key and its request (DER and base64).
# bench_serve_start NAME WORKERS [HWCA-ARGS...]: `hwca [HWCA-ARGS] serve --ca root` on a free
# port of 127.0.0.1 in the background (NAME.out, NAME.err), its pid added to BENCH_SERVERS
# at once; waits until it says where it listens. Sets SERVE_PID and SERVE_PORT.
# bench_first_enrollments BASE CA N: node-1..N's first certificate (simpleenroll, HTTP Basic
# with its token, curl) from the server at BASE, verified against CA: clients/node-I.pem.
# bench_serve_stop PID NAME: SIGTERM; it must exit 0 and say it stopped (NAME.out).
# bench_stop_servers: SIGTERM to every server still running (for the cleanup trap).
# bench_drop_work: $WORK removed, or with keep=1 kept and its path printed (the cleanup trap).

BENCH_SERVERS=()

bench_softhsm_token() {
  mkdir -m 700 tokens
  printf '%s\n' "directories.tokendir = $WORK/tokens" "objectstore.backend = file" \
    "log.level = ERROR" "slots.removable = false" >softhsm2.conf
  export SOFTHSM2_CONF=$WORK/softhsm2.conf
  export HWCA_PKCS11_MODULE=$SOFTHSM_MODULE
  export HWCA_HOME=$WORK/home
  unset OPENSSL_CONF HWCA_TOKEN_TIMEOUT
  PIN=bench-$RANDOM$RANDOM
  (umask 077 && printf '%s\n' "$PIN" >pin)
  export HWCA_PIN_SOURCE=file:$WORK/pin
  softhsm2-util --init-token --free --label bench --pin "$PIN" --so-pin "so-$PIN" >/dev/null
}

bench_est_defaults() {
  seconds=$1 concurrency=$2 warmup=1 parent=${TMPDIR:-/tmp} keep=0 verify_every=0 json_out=
}

bench_est_option() {
  BENCH_SHIFT=2
  case $1 in
    --seconds) seconds=${2:?--seconds needs a number} ;;
    --warmup) warmup=${2:?--warmup needs a number} ;;
    --concurrency) concurrency=${2:?--concurrency needs a number} ;;
    --dir) parent=${2:?--dir needs a folder} ;;
    --keep) keep=1 BENCH_SHIFT=1 ;;
    --verify-every) verify_every=${2:?--verify-every needs a number} ;;
    --json) json_out=${2:?--json needs a file} ;;
    *) BENCH_SHIFT=0 ;;
  esac
}

bench_est_check_options() {
  [[ $concurrency =~ ^[1-9][0-9]*$ && $verify_every =~ ^[0-9]+$ ]] ||
    { echo "$1: --concurrency and --verify-every need whole numbers" >&2; exit 2; }
  [[ $seconds =~ ^[0-9]*\.?[0-9]+$ && $warmup =~ ^[0-9]*\.?[0-9]+$ ]] ||
    { echo "$1: --seconds and --warmup need numbers" >&2; exit 2; }
  [[ -z $json_out ]] || json_out=$(realpath -m "$json_out")
}

bench_est_tools() {
  HWCA_BIN=$(realpath -m "${HWCA_BIN:-$root/build/bin/hwca}")
  HWCA_EST_LOAD=$(realpath -m "${HWCA_EST_LOAD:-$root/build/bin/hwca_est_load}")
  SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
  [[ -x $HWCA_BIN ]] || fail "HWCA_BIN=$HWCA_BIN is not executable (build hwca first)"
  [[ -x $HWCA_EST_LOAD ]] || fail "HWCA_EST_LOAD=$HWCA_EST_LOAD is not executable (build hwca_est_load)"
  local tool
  for tool in openssl softhsm2-util curl jq base64; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/setup-deps.sh installs it)"
  done
  [[ -e $SOFTHSM_MODULE ]] || fail "$SOFTHSM_MODULE is missing (scripts/setup-deps.sh)"
}

bench_make_nodes() {
  local n=$1 i
  shift
  mkdir -p -m 700 clients
  for ((i = 1; i <= n; i++)); do
    "$HWCA_BIN" "$@" bootstrap create --node "node-$i" >"clients/node-$i.token" 2>bootstrap.err ||
      fail "hwca bootstrap create --node node-$i: $(tail -1 bootstrap.err)"
    (umask 077 && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "clients/node-$i.key" -subj "/O=system:nodes/CN=system:node:node-$i" \
      -outform DER -out "clients/node-$i.csr.der" 2>/dev/null)
    base64 -w0 "clients/node-$i.csr.der" >"clients/node-$i.csr.b64"
  done
}

bench_serve_start() {
  local name=$1 workers=$2 t
  shift 2
  # Every client thread connects from 127.0.0.1: the per-address cap must not count them as
  # one client (it is 8 by default).
  "$HWCA_BIN" "$@" serve --ca root --listen 127.0.0.1:0 --workers "$workers" \
    --max-client-connections "$workers" >"$name.out" 2>"$name.err" &
  SERVE_PID=$!
  BENCH_SERVERS+=("$SERVE_PID")
  for ((t = 0; t < 300; t++)); do
    grep -q '^hwca serve: CA' "$name.out" 2>/dev/null && break
    kill -0 "$SERVE_PID" 2>/dev/null || fail "hwca serve ($name) exited: $(tail -3 "$name.err")"
    sleep 0.1
  done
  SERVE_PORT=$(sed -n 's|^hwca serve: CA .* on https://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$name.out" | head -1)
  [[ -n $SERVE_PORT ]] ||
    fail "hwca serve ($name) did not say where it listens: $(head -3 "$name.out") $(tail -3 "$name.err")"
}

bench_first_enrollments() {
  local base=$1 ca=$2 n=$3 i code
  for ((i = 1; i <= n; i++)); do
    code=$(curl -sS -o "clients/node-$i.p7" -w '%{http_code}' --cacert "$ca" \
      -u "node-$i:$(cat "clients/node-$i.token")" -H 'Content-Type: application/pkcs10' \
      --data-binary "@clients/node-$i.csr.b64" "$base/.well-known/est/simpleenroll")
    [[ $code == 200 ]] || fail "simpleenroll of node-$i: HTTP $code: $(head -c 300 "clients/node-$i.p7")"
    tr -d '\r\n' <"clients/node-$i.p7" | base64 -d |
      openssl pkcs7 -inform DER -print_certs -out "clients/node-$i.pem" 2>/dev/null ||
      fail "the simpleenroll reply of node-$i is not a base64 certs-only PKCS#7"
    openssl verify -CAfile "$ca" -purpose sslclient "clients/node-$i.pem" >/dev/null ||
      fail "node-$i's certificate does not verify"
  done
}

bench_serve_stop() {
  local pid=$1 name=$2 rc=0 p kept=()
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  for p in "${BENCH_SERVERS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  BENCH_SERVERS=("${kept[@]}")
  ((rc == 0)) || fail "hwca serve ($name) exited $rc after SIGTERM: $(tail -3 "$name.err")"
  grep -q '^hwca serve: stopped' "$name.out" || fail "hwca serve ($name) did not say it stopped"
}

bench_stop_servers() {
  local pid
  for pid in "${BENCH_SERVERS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${BENCH_SERVERS[@]}"; do wait "$pid" 2>/dev/null || true; done
  BENCH_SERVERS=()
}

bench_drop_work() {
  if ((keep)); then
    echo "work folder kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
