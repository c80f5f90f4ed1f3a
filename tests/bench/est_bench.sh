#!/usr/bin/env bash
# EST enrollment over HTTPS: `hwca serve` with an ec-p256 CA key in SoftHSM2, loaded by
# hwca_est_load (one mutual-TLS client a thread, each with its own node certificate).
#
#   tests/bench/est_bench.sh [--seconds S] [--warmup S] [--concurrency N] [--nodes N]
#                            [--dir DIR] [--keep] [--verify-every N] [--json FILE]
#
#   --seconds S        measured window of each phase (default 10)
#   --warmup S         unmeasured requests before each window (default 1)
#   --concurrency N    client threads, one connection each (default 32)
#   --nodes N          nodes enrolled, one client certificate each (default: --concurrency)
#   --dir DIR          make the work folder (token, CA home, audit log) in DIR, e.g.
#                      /dev/shm (default $TMPDIR, else /tmp); its file system is printed
#   --keep             keep the work folder (its path is printed)
#   --verify-every N   fully verify every Nth reply of each client (default: the first)
#   --json FILE        write the phases' results and the server's figures to FILE
#
# Environment: HWCA_BIN and HWCA_EST_LOAD (default build/bin/hwca and
# build/bin/hwca_est_load of this checkout).
#
# Setup (not timed): a SoftHSM2 token, `hwca ca init --generate ec-p256`, one bootstrap
# token a node (`hwca bootstrap create`), `hwca serve --listen 127.0.0.1:0` with
# --workers N+8, and each node's first certificate (simpleenroll, HTTP Basic with its token,
# by curl) for a P-256 key and request made by openssl (O=system:nodes,
# CN=system:node:node-I). Phases, each over N connections:
#   1. healthz keep-alive          GET /healthz: what TLS and HTTP cost alone
#   2. simplereenroll keep-alive   POST simplereenroll, the node's request, mutual TLS
#   3. healthz new-connection      a full TLS handshake for every request
#   4. simplereenroll new-connection
# Then the server's peak RSS (VmHWM), GET /metrics (the signing histogram), SIGTERM (the
# server must exit 0), `hwca audit verify`, and the audit log's cert.issued lines against
# the 200s counted. The targets (32 clients: >= 1,500 enrollments/s with p99 < 50 ms kept
# alive, >= 400/s with a new connection each, peak RSS < 64 MB) are reported PASS or MISS;
# they never fail the run. Exit status: 0; 1 if a request, a reply or a check failed; 2 for
# a usage error.
set -euo pipefail

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; }
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/bench_lib.sh
source "$root/tests/bench/bench_lib.sh"
bench_est_defaults 10 32
nodes=
while (($#)); do
  bench_est_option "$@"
  if ((BENCH_SHIFT)); then shift "$BENCH_SHIFT"; continue; fi
  case $1 in
    --nodes) nodes=${2:?--nodes needs a number}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "est_bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
bench_est_check_options est_bench.sh
nodes=${nodes:-$concurrency}
[[ $nodes =~ ^[1-9][0-9]*$ ]] || { echo "est_bench.sh: --nodes needs a whole number" >&2; exit 2; }

fail() { echo "FAIL: $*" >&2; exit 1; }
bench_est_tools

WORK=$(mktemp -d "$parent/hwca-estbench.XXXXXXXX")
cleanup() {
  local rc=$?
  bench_stop_servers
  bench_drop_work
  exit "$rc"
}
trap cleanup EXIT
cd "$WORK"
bench_softhsm_token

"$HWCA_BIN" ca init --name root --key 'pkcs11:token=bench;object=root' --generate ec-p256 \
  --subject '/CN=hwca EST bench root' >/dev/null
CA=$HWCA_HOME/cas/root/cert.pem
AUDIT=$HWCA_HOME/audit.log
issued_lines() { grep -c '"event":"cert.issued"' "$AUDIT" || true; }

# The nodes: a bootstrap token, a P-256 key and its request each.
bench_make_nodes "$nodes"

fs=$(df -PT "$WORK" | awk 'NR == 2 { print $2 " (" $1 " on " $7 ")" }')
echo "$(openssl version); $(nproc) CPUs; $concurrency clients, $nodes nodes; phases of ${seconds} s after ${warmup} s of warm-up" >&2
echo "work folder $WORK on $fs; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# The server, on any free port; its first stdout line names it.
bench_serve_start serve $((concurrency + 8))
server_pid=$SERVE_PID port=$SERVE_PORT
BASE=https://127.0.0.1:$port
[[ $(curl -sS --cacert "$CA" "$BASE/healthz") == ok:* ]] || fail "GET /healthz did not answer ok"
issued_at_start=$(issued_lines)  # the CA's own certificate and the server's TLS one

# First enrollment of each node: HTTP Basic with its bootstrap token.
bench_first_enrollments "$BASE" "$CA" "$nodes"
setup_enrolled=$nodes

# The phases. Each writes one JSON line; a failing phase is recorded and the rest still run.
phase_failed=0
results=()
run_phase() {  # LABEL LOAD-ARGS...
  local label=$1 out rc=0
  shift
  out=$("$HWCA_EST_LOAD" --url "127.0.0.1:$port" --ca "$CA" --clients "$WORK/clients" \
    --concurrency "$concurrency" --seconds "$seconds" --warmup "$warmup" \
    --verify-every "$verify_every" --server-pid "$server_pid" --label "$label" --json "$@") || rc=$?
  if ((rc != 0)); then
    echo "FAIL: phase '$label': hwca_est_load exited $rc" >&2
    phase_failed=1
  fi
  [[ -n $out ]] || fail "phase '$label' printed no result"
  results+=("$out")
}
run_phase "healthz keep-alive" --path /healthz
run_phase "simplereenroll keep-alive" --path simplereenroll
run_phase "healthz new-connection" --path /healthz --new-connection
run_phase "simplereenroll new-connection" --path simplereenroll --new-connection

# The server's figures, then stop it.
vm_hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status")
vm_rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status")
threads=$(awk '/^Threads:/ { print $2 }' "/proc/$server_pid/status")
curl -sS --cacert "$CA" "$BASE/metrics" >metrics.txt || fail "GET /metrics failed"
bench_serve_stop "$server_pid" serve

# The audit log against the 200s counted.
"$HWCA_BIN" audit verify >audit.out 2>audit.err ||
  fail "hwca audit verify: $(cat audit.out audit.err | tail -3)"
enrolled_ok=0
for r in "${results[@]}"; do
  if [[ $(jq -r .path <<<"$r") == /.well-known/est/* ]]; then
    enrolled_ok=$((enrolled_ok + $(jq -r .ok_total <<<"$r")))
  fi
done
issued_end=$(issued_lines)
expected=$((issued_at_start + setup_enrolled + enrolled_ok))
rejected=$(grep -c '"event":"est.rejected"' "$AUDIT" || true)
checks_failed=$phase_failed
if ((issued_end != expected)); then
  echo "FAIL: the audit log has $issued_end cert.issued lines; expected $expected ($issued_at_start at start + $setup_enrolled enrolled + $enrolled_ok renewals answered 200)" >&2
  checks_failed=1
fi
if ((rejected != 0)); then
  echo "FAIL: the audit log has $rejected est.rejected lines" >&2
  checks_failed=1
fi
issued_metric=$(awk '/^hwca_est_issued_total/ { s += $NF } END { print s + 0 }' metrics.txt)
if ((issued_metric != setup_enrolled + enrolled_ok)); then
  echo "FAIL: hwca_est_issued_total is $issued_metric; expected $((setup_enrolled + enrolled_ok))" >&2
  checks_failed=1
fi

# The signing histogram (sign, record and audit one request, group commit included).
sign_count=$(awk '/^hwca_est_signing_seconds_count/ { print $NF }' metrics.txt)
sign_sum=$(awk '/^hwca_est_signing_seconds_sum/ { print $NF }' metrics.txt)
sign_buckets=$(awk -F'[{}"]' '/^hwca_est_signing_seconds_bucket/ { split($0, f, " "); printf "%s:%s ", $3, f[2] }' metrics.txt)

# The summary.
field() { jq -r "$2" <<<"${results[$1]}"; }
echo
printf '%-30s %9s %8s %8s %8s %9s %8s %11s %8s %7s %7s %9s\n' phase req/s "p50 ms" "p90 ms" "p99 ms" \
  "max ms" failures "server cpu" "ms/req" client others "SYN drop"
for i in "${!results[@]}"; do
  printf '%-30s %9.1f %8.2f %8.2f %8.2f %9.2f %8s %11s %8s %7s %7s %9s\n' "$(field "$i" .label)" \
    "$(field "$i" .rps)" "$(field "$i" .p50_ms)" "$(field "$i" .p90_ms)" "$(field "$i" .p99_ms)" \
    "$(field "$i" .max_ms)" "$(field "$i" .failures)" \
    "$(printf '%.2f cores' "$(field "$i" .server_cpu_cores)")" \
    "$(printf '%.3f' "$(field "$i" .server_cpu_ms_per_request)")" \
    "$(printf '%.2f' "$(field "$i" .client_cpu_cores)")" \
    "$(printf '%.2f' "$(field "$i" .other_cpu_cores)")" "$(field "$i" .listen_drops)"
done
echo "(server cpu: hwca serve's CPU time over the window, in cores and per request; client: the"
echo " load generator's, in cores; others: the rest of the machine's; SYN drop: connections the"
echo " host dropped for a full listen queue)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
ka_enroll=$(field 1 .rps); ka_health=$(field 0 .rps)
nc_enroll=$(field 3 .rps); nc_health=$(field 2 .rps)
ka_p99=$(field 1 .p99_ms)
echo
echo "enrollments/healthz: keep-alive $(ratio "$ka_enroll" "$ka_health"), new connection $(ratio "$nc_enroll" "$nc_health")"
echo "server: peak RSS (VmHWM) $((vm_hwm_kb / 1024)) MB ($vm_hwm_kb kB), RSS at the end $((vm_rss_kb / 1024)) MB, $threads threads"
if [[ -n $sign_count && $sign_count != 0 ]]; then
  echo "hwca_est_signing_seconds: $sign_count requests, mean $(awk -v s="$sign_sum" -v n="$sign_count" 'BEGIN { printf "%.3f", s / n * 1000 }') ms; cumulative buckets (s): $sign_buckets"
fi
echo "audit: $issued_end cert.issued = $issued_at_start at start + $setup_enrolled first enrollments + $enrolled_ok renewals; audit verify: $(head -1 audit.out)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
pass() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo MISS; fi; }
echo
[[ $concurrency == 32 ]] || echo "(the targets are for 32 clients; this run had $concurrency)"
printf '%-44s %-5s %s\n' "keep-alive >= 1500 enrollments/s" "$(pass "$ka_enroll >= 1500")" "$(printf '%.1f/s' "$ka_enroll")"
printf '%-44s %-5s %s\n' "keep-alive p99 < 50 ms" "$(pass "$ka_p99 < 50")" "$(printf '%.2f ms' "$ka_p99")"
printf '%-44s %-5s %s\n' "new connection each >= 400 enrollments/s" "$(pass "$nc_enroll >= 400")" "$(printf '%.1f/s' "$nc_enroll")"
printf '%-44s %-5s %s\n' "server peak RSS < 64 MB" "$(pass "$vm_hwm_kb < 65536")" "$((vm_hwm_kb / 1024)) MB"

if [[ -n $json_out ]]; then
  printf '%s\n' "${results[@]}" | jq -s --argjson hwm "$vm_hwm_kb" --argjson issued "$issued_end" \
    --argjson expected "$expected" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    '{phases: ., server_vm_hwm_kb: $hwm, audit_cert_issued: $issued, audit_expected: $expected, load_end: $load}' \
    >"$json_out"
fi
((checks_failed == 0)) || fail "a phase or a check failed (above)"
echo "checks: ok"
