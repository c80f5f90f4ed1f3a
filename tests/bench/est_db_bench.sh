#!/usr/bin/env bash
# EST enrollment against PostgreSQL beside SQLite (issue 19), in one run: simplereenroll kept
# alive (hwca_est_load) against (a) one `hwca serve` on an SQLite home, (b) one on a
# PostgreSQL home, (c) N on PostgreSQL (N homes on one database, one CA; client thread I
# talks to server I mod N), in turns over several rounds (a b c a b c ...), so that the
# machine's drift hits the three alike.
#
#   tests/bench/est_db_bench.sh [--rounds N] [--seconds S] [--warmup S] [--concurrency N]
#                               [--instances N] [--dir DIR] [--keep] [--verify-every N]
#                               [--json FILE]
#
#   --rounds N         rounds of the three configurations (default 3)
#   --seconds S        measured window of each phase (default 8)
#   --warmup S         unmeasured requests before each window (default 1)
#   --concurrency N    client threads in all, one connection each, one node each (default 24)
#   --instances N      servers of configuration (c) (default 3)
#   --dir DIR          make the work folder in DIR (default $TMPDIR, else /tmp); SQLite's
#                      home and PostgreSQL's data are both there; its file system is printed
#   --keep             keep the work folder (its path is printed; PostgreSQL's data goes)
#   --verify-every N   fully verify every Nth reply of each client (default: the first)
#   --json FILE        write every phase's result, the medians and the ratios to FILE
#
# Environment: HWCA_BIN, HWCA_EST_LOAD and HWCA_PG_FIXTURE (default build/bin/hwca,
# build/bin/hwca_est_load and build/bin/hwca_pg_fixture of this checkout); psql.
#
# Setup (not timed): one SoftHSM2 token that every server opens itself (SOFTHSM2_CONF: the
# stand-in for a shared HSM), a private PostgreSQL server with fsync on (hwca_pg_fixture
# start --fsync; its durability settings are printed and fsync=on checked), an SQLite home
# with CA 'root', N PostgreSQL homes on one database (the first makes CA 'root', the others
# adopt it), every server (--workers concurrency+8 each) started before the first round and
# left running, and each node's first certificate from each CA (as est_bench.sh), then 12 s
# of load on each store before the first round. Before every phase the database is
# vacuumed, analysed and checkpointed (outside the window).
# Printed: each phase's requests/s, latencies, the CPU of the servers (hwca serve, over the
# window, per request), of PostgreSQL (the postmaster and its backends, over the whole phase,
# per 200) and of the rest of the machine; per round and as medians the ratios PG1/SQLite1
# and PGN/PG1, and the targets (PG1 >= 0.7 x SQLite1, PGN >= PG1) as PASS or MISS: they
# never fail the run. Checks: every server exits 0 on SIGTERM, `hwca audit verify` of both
# databases, the cert.issued lines of both audit chains (the file, the table audit_events)
# and the servers' hwca_est_issued_total against the 200s counted, no est.rejected line.
# Exit status: 0; 1 if a request, a reply or a check failed; 2 for a usage error.
set -euo pipefail

usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; }
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/bench_lib.sh
source "$root/tests/bench/bench_lib.sh"
bench_est_defaults 8 24
rounds=3
instances=3
while (($#)); do
  bench_est_option "$@"
  if ((BENCH_SHIFT)); then shift "$BENCH_SHIFT"; continue; fi
  case $1 in
    --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
    --instances) instances=${2:?--instances needs a number}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "est_db_bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
bench_est_check_options est_db_bench.sh
[[ $rounds =~ ^[1-9][0-9]*$ && $instances =~ ^[1-9][0-9]*$ ]] ||
  { echo "est_db_bench.sh: --rounds and --instances need whole numbers" >&2; exit 2; }
nodes=$concurrency

fail() { echo "FAIL: $*" >&2; exit 1; }
bench_est_tools
HWCA_PG_FIXTURE=$(realpath -m "${HWCA_PG_FIXTURE:-$root/build/bin/hwca_pg_fixture}")
[[ -x $HWCA_PG_FIXTURE ]] || fail "HWCA_PG_FIXTURE=$HWCA_PG_FIXTURE is not executable (build hwca_pg_fixture)"
command -v psql >/dev/null || fail "psql is missing (scripts/setup-deps.sh installs it)"

WORK=$(mktemp -d "$parent/hwca-estdbbench.XXXXXXXX")
# Run as root, PostgreSQL runs as user postgres, which must reach its folder in $WORK (the
# token, the PIN file and the homes keep modes of their own).
chmod 711 "$WORK"
PGDIR=$WORK/pg
pg_started=0
cleanup() {
  local rc=$?
  bench_stop_servers
  if ((pg_started)); then
    "$HWCA_PG_FIXTURE" stop "$PGDIR" >/dev/null 2>&1 || echo "could not stop PostgreSQL in $PGDIR" >&2
  fi
  bench_drop_work
  exit "$rc"
}
trap cleanup EXIT
cd "$WORK"
bench_softhsm_token  # HWCA_HOME=$WORK/home: the SQLite home

# PostgreSQL, durable as in production, and its database.
pg_started=1
"$HWCA_PG_FIXTURE" start "$PGDIR" --fsync >pg-start.out 2>&1 ||
  fail "hwca_pg_fixture start: $(tail -3 pg-start.out)"
pg_port=$(cat "$PGDIR/port")
pg_admin="host=$PGDIR port=$pg_port user=hwca dbname=postgres"
psql -qX "$pg_admin" -c "CREATE DATABASE hwca_bench" >/dev/null || fail "cannot create the database"
pg_sql() { psql -qAtX "host=$PGDIR port=$pg_port user=hwca dbname=hwca_bench" -c "$1"; }
DB_URL="postgresql:///hwca_bench?host=$(printf '%s' "$PGDIR" | sed 's|/|%2F|g')&port=$pg_port&user=hwca"
[[ $(pg_sql "SHOW fsync") == on ]] || fail "PostgreSQL runs with fsync off: it would not pay what production pays"
pg_settings=$(pg_sql "SELECT string_agg(name || '=' || setting || COALESCE(unit, ''), ', ' ORDER BY name)
  FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method',
  'full_page_writes', 'commit_delay', 'shared_buffers', 'max_connections')")
pg_version=$(pg_sql "SHOW server_version")
postmaster=$(head -1 "$PGDIR/data/postmaster.pid")
clock_ticks=$(getconf CLK_TCK)
# CPU time of PostgreSQL in clock ticks: the postmaster, its live children (the backends of
# hwca's connections, the WAL writer, the checkpointer) and those it reaped (cutime, cstime).
pg_cpu_ticks() {
  local pid stat sum=0 f
  for pid in "$postmaster" $(pgrep -P "$postmaster"); do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    read -r -a f <<<"${stat##*) }"  # f[0] is field 3 (state)
    sum=$((sum + f[11] + f[12]))
    [[ $pid != "$postmaster" ]] || sum=$((sum + f[13] + f[14]))
  done
  echo "$sum"
}
# The database's transactions and WAL so far: transactions, WAL records, WAL syncs (the
# fsyncs of commits and of the WAL writer), WAL bytes. A backend reports its counts within a
# second of going idle, so a phase is read again 1.2 s after it ends.
pg_counters() {
  pg_sql "SELECT json_build_object('xacts', d.xact_commit + d.xact_rollback, 'wal_records',
    w.wal_records, 'wal_syncs', w.wal_sync, 'wal_bytes', w.wal_bytes)
    FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = 'hwca_bench'"
}
issued_sql="SELECT count(*) FROM audit_events WHERE line LIKE '%\"event\":\"cert.issued\"%'"
rejected_sql="SELECT count(*) FROM audit_events WHERE line LIKE '%\"event\":\"est.rejected\"%'"

# The CAs: one in the SQLite home, one in the shared database that every PostgreSQL home
# adopts. Both keys in the one token.
"$HWCA_BIN" ca init --name root --key 'pkcs11:token=bench;object=root-sqlite' --generate ec-p256 \
  --subject '/CN=hwca EST bench root (SQLite)' >/dev/null
SQLITE_CA=$HWCA_HOME/cas/root/cert.pem
AUDIT=$HWCA_HOME/audit.log
"$HWCA_BIN" --home "$WORK/pg-1" --database "$DB_URL" ca init --name root \
  --key 'pkcs11:token=bench;object=root-pg' --generate ec-p256 \
  --subject '/CN=hwca EST bench root (PostgreSQL)' >/dev/null
for ((k = 2; k <= instances; k++)); do
  "$HWCA_BIN" --home "$WORK/pg-$k" --database "$DB_URL" ca list >/dev/null
done
PG_CA=$WORK/pg-ca.pem
"$HWCA_BIN" --home "$WORK/pg-1" ca show root --pem >"$PG_CA"

fs=$(df -PT "$WORK" | awk 'NR == 2 { print $2 " (" $1 " on " $7 ")" }')
echo "$(openssl version); PostgreSQL $pg_version; $(nproc) CPUs; $concurrency clients; $rounds rounds of phases of ${seconds} s after ${warmup} s of warm-up" >&2
echo "$(date -u '+%F %T UTC'); work folder $WORK on $fs; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "PostgreSQL: $pg_settings" >&2

# The servers and the nodes' first certificates; SQLite's in sqlite/, PostgreSQL's in postgres/.
workers=$((concurrency + 8))
mkdir sqlite postgres
cd "$WORK/sqlite"
bench_make_nodes "$nodes"
bench_serve_start serve "$workers"
sqlite_pid=$SERVE_PID sqlite_url=127.0.0.1:$SERVE_PORT
sqlite_issued_at_start=$(grep -c '"event":"cert.issued"' "$AUDIT" || true)
bench_first_enrollments "https://$sqlite_url" "$SQLITE_CA" "$nodes"
cd "$WORK/postgres"
bench_make_nodes "$nodes" --home "$WORK/pg-1"
pg_pids=() pg_urls=()
for ((k = 1; k <= instances; k++)); do
  bench_serve_start "serve-$k" "$workers" --home "$WORK/pg-$k"
  pg_pids+=("$SERVE_PID") pg_urls+=("127.0.0.1:$SERVE_PORT")
done
pg_issued_at_start=$(pg_sql "$issued_sql")
bench_first_enrollments "https://${pg_urls[0]}" "$PG_CA" "$nodes"
cd "$WORK"

# The phases, in turns. Each adds one JSON line; a failing phase is recorded, the rest run.
phase_failed=0
results=()
run_phase() {  # CONFIG ROUND CLIENTS-DIR CA URLS(comma) PIDS...
  local config=$1 round=$2 clients=$3 ca=$4 urls=$5 out rc=0 pid pg0 pg1 t0 t1 c0 c1 args=()
  shift 5
  for pid in "$@"; do args+=(--server-pid "$pid"); done
  # The last phase's rows vacuumed and analysed and its WAL checkpointed first, before every
  # phase alike: else autovacuum or a checkpoint it called for lands in whichever window
  # comes next (one PostgreSQL x1 phase measured at half its rate so).
  pg_sql "VACUUM (ANALYZE)" >/dev/null && pg_sql "CHECKPOINT" >/dev/null ||
    fail "cannot vacuum and checkpoint the database before a phase"
  c0=$(pg_counters) pg0=$(pg_cpu_ticks) t0=$(date +%s.%N)
  out=$("$HWCA_EST_LOAD" --url "$urls" --ca "$ca" --clients "$clients" --path simplereenroll \
    --concurrency "$concurrency" --seconds "$seconds" --warmup "$warmup" \
    --verify-every "$verify_every" "${args[@]}" --label "$config, round $round" --json) || rc=$?
  pg1=$(pg_cpu_ticks) t1=$(date +%s.%N)
  sleep 1.2
  c1=$(pg_counters)
  if ((rc != 0)); then
    echo "FAIL: phase '$config, round $round': hwca_est_load exited $rc" >&2
    phase_failed=1
  fi
  [[ -n $out ]] || fail "phase '$config, round $round' printed no result"
  results+=("$(jq -c --arg config "$config" --argjson round "$round" \
    --argjson pg_s "$(awk -v t="$((pg1 - pg0))" -v hz="$clock_ticks" 'BEGIN { print t / hz }')" \
    --argjson span "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
    --argjson load1 "$(cut -d' ' -f1 /proc/loadavg)" --argjson c0 "$c0" --argjson c1 "$c1" \
    '. + {config: $config, round: $round, pg_cpu_seconds: $pg_s, phase_seconds: $span,
          load1: $load1, pg: ($c1 | with_entries(.value -= $c0[.key]))}' <<<"$out")")
}
all_pg_urls=$(IFS=,; echo "${pg_urls[*]}")
# A new database first: 12 s of load on each store, not measured. A server's first seconds
# on a database that small use the plans made for it (pg::Connection keeps them 10 s:
# refresh_plans), which scan tables grown tenfold meanwhile; the rounds measure what runs on.
settle() {  # CLIENTS-DIR CA URLS: prints the 200s it got
  local out
  out=$("$HWCA_EST_LOAD" --url "$3" --ca "$2" --clients "$1" --path simplereenroll \
    --concurrency "$concurrency" --seconds 1 --warmup 11 --label "settling" --json 2>/dev/null) ||
    fail "the load before the rounds failed on $3"
  jq -r .ok_total <<<"$out"
}
sqlite_settled=$(settle sqlite/clients "$SQLITE_CA" "$sqlite_url")
pg_settled=$(settle postgres/clients "$PG_CA" "$all_pg_urls")
configs=("SQLite x1" "PostgreSQL x1" "PostgreSQL x$instances")
for ((r = 1; r <= rounds; r++)); do
  run_phase "${configs[0]}" "$r" sqlite/clients "$SQLITE_CA" "$sqlite_url" "$sqlite_pid"
  run_phase "${configs[1]}" "$r" postgres/clients "$PG_CA" "${pg_urls[0]}" "${pg_pids[0]}"
  run_phase "${configs[2]}" "$r" postgres/clients "$PG_CA" "$all_pg_urls" "${pg_pids[@]}"
done

# The servers' counters, then stop them: each must exit 0.
metric_issued() { curl -sS --cacert "$2" "https://$1/metrics" |
  awk '/^hwca_est_issued_total/ { s += $NF } END { print s + 0 }'; }
sqlite_metric=$(metric_issued "$sqlite_url" "$SQLITE_CA")
pg_metric=0
for url in "${pg_urls[@]}"; do pg_metric=$((pg_metric + $(metric_issued "$url" "$PG_CA"))); done
bench_serve_stop "$sqlite_pid" sqlite/serve
for ((k = 1; k <= instances; k++)); do bench_serve_stop "${pg_pids[k - 1]}" "postgres/serve-$k"; done

# Both audit chains against the 200s counted.
checks_failed=$phase_failed
check() {  # WHAT GOT EXPECTED
  if (($2 != $3)); then
    echo "FAIL: $1 is $2; expected $3" >&2
    checks_failed=1
  fi
}
"$HWCA_BIN" audit verify >sqlite-audit.out 2>&1 || fail "hwca audit verify (SQLite): $(tail -3 sqlite-audit.out)"
"$HWCA_BIN" --home "$WORK/pg-$instances" audit verify >pg-audit.out 2>&1 ||
  fail "hwca audit verify (PostgreSQL): $(tail -3 pg-audit.out)"
ok_of() { printf '%s\n' "${results[@]}" | jq -s --arg db "$1" \
  'map(select(.config | startswith($db)) | .ok_total) | add // 0'; }
sqlite_ok=$(($(ok_of SQLite) + sqlite_settled)) pg_ok=$(($(ok_of PostgreSQL) + pg_settled))
sqlite_issued=$(grep -c '"event":"cert.issued"' "$AUDIT" || true)
pg_issued=$(pg_sql "$issued_sql")
check "SQLite's audit log: cert.issued lines" "$sqlite_issued" $((sqlite_issued_at_start + nodes + sqlite_ok))
check "PostgreSQL's audit chain: cert.issued lines" "$pg_issued" $((pg_issued_at_start + nodes + pg_ok))
check "SQLite's est.rejected lines" "$(grep -c '"event":"est.rejected"' "$AUDIT" || true)" 0
check "PostgreSQL's est.rejected lines" "$(pg_sql "$rejected_sql")" 0
check "the SQLite server's hwca_est_issued_total" "$sqlite_metric" $((nodes + sqlite_ok))
check "the PostgreSQL servers' hwca_est_issued_total" "$pg_metric" $((nodes + pg_ok))

# The summary: every phase, then per round and median the ratios.
echo
printf '%-5s %-16s %8s %7s %7s %8s %12s %7s %7s %6s %6s %7s %7s %6s\n' round config req/s \
  "p50 ms" "p99 ms" failures "server cpu" ms/req "PG ms" xacts fsyncs client rest load
for line in "${results[@]}"; do
  jq -r '([.ok_total, 1] | max) as $n
    | [.round, .config, .rps, .p50_ms, .p99_ms, .failures, .server_cpu_cores,
      .server_cpu_ms_per_request, (.pg_cpu_seconds * 1000 / $n), (.pg.xacts / $n),
      (.pg.wal_syncs / $n), .client_cpu_cores,
      (.other_cpu_cores - .pg_cpu_seconds / .phase_seconds), .load1]
    | @tsv' <<<"$line" |
    while IFS=$'\t' read -r rd cf rps p50 p99 fl sc sm pm xa fs cc rest ld; do
      printf '%-5s %-16s %8.1f %7.2f %7.2f %8s %6.2f cores %7.3f %7.3f %6.2f %6.3f %7.2f %7.2f %6.2f\n' \
        "$rd" "$cf" "$rps" "$p50" "$p99" "$fl" "$sc" "$sm" "$pm" "$xa" "$fs" "$cc" "$rest" "$ld"
    done
done
echo "(server cpu: the hwca serve processes' CPU over the window, in cores and per request; PG ms:"
echo " PostgreSQL's CPU over the whole phase per 200; xacts, fsyncs: the database's transactions"
echo " and WAL syncs per 200; client: the load generator's cores; rest: the rest of the"
echo " machine's, PostgreSQL's taken out; load: the 1-minute load average after)"
summary=$(printf '%s\n' "${results[@]}" | jq -s --arg a "${configs[0]}" --arg b "${configs[1]}" \
  --arg c "${configs[2]}" '
  def median: sort | if length == 0 then 0 elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def rps($cfg; $r): map(select(.config == $cfg and .round == $r) | .rps) | first // 0;
  def ratio($x; $y): if $y > 0 then $x / $y else 0 end;
  . as $all | ($all | map(.round) | unique) as $rounds
  | {rounds: [$rounds[] as $r | {round: $r, sqlite1: rps($a; $r), pg1: rps($b; $r),
        pgn: rps($c; $r), pg1_over_sqlite1: ratio(rps($b; $r); rps($a; $r)),
        pgn_over_pg1: ratio(rps($c; $r); rps($b; $r))}]}
  | .median = {sqlite1: (.rounds | map(.sqlite1) | median), pg1: (.rounds | map(.pg1) | median),
      pgn: (.rounds | map(.pgn) | median),
      pg1_over_sqlite1: (.rounds | map(.pg1_over_sqlite1) | median),
      pgn_over_pg1: (.rounds | map(.pgn_over_pg1) | median)}')
echo
printf '%-7s %12s %16s %16s %14s %14s\n' round "SQLite x1/s" "PostgreSQL x1/s" \
  "PostgreSQL x$instances/s" "PG1/SQLite1" "PG$instances/PG1"
jq -r '(.rounds[] | [.round, .sqlite1, .pg1, .pgn, .pg1_over_sqlite1, .pgn_over_pg1]),
  (.median | ["median", .sqlite1, .pg1, .pgn, .pg1_over_sqlite1, .pgn_over_pg1]) | @tsv' \
  <<<"$summary" | while IFS=$'\t' read -r rd s p1 pn r1 rn; do
  printf '%-7s %12.1f %16.1f %16.1f %14.2f %14.2f\n' "$rd" "$s" "$p1" "$pn" "$r1" "$rn"
done
echo
echo "PostgreSQL $pg_version: $pg_settings"
echo "audit: SQLite $sqlite_issued cert.issued = $sqlite_issued_at_start at start + $nodes first enrollments + $sqlite_ok renewals; $(head -1 sqlite-audit.out)"
echo "audit: PostgreSQL $pg_issued cert.issued = $pg_issued_at_start at start + $nodes first enrollments + $pg_ok renewals; $(head -1 pg-audit.out)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
pass() { if awk "BEGIN { exit !($1) }"; then echo PASS; else echo MISS; fi; }
med1=$(jq .median.pg1_over_sqlite1 <<<"$summary") medn=$(jq .median.pgn_over_pg1 <<<"$summary")
echo
printf '%-52s %-5s %.2f\n' "PostgreSQL x1 >= 0.7 x SQLite x1 (median ratio)" "$(pass "$med1 >= 0.7")" "$med1"
printf '%-52s %-5s %.2f\n' "PostgreSQL x$instances >= PostgreSQL x1 (median ratio)" "$(pass "$medn >= 1")" "$medn"

if [[ -n $json_out ]]; then
  printf '%s\n' "${results[@]}" | jq -s --argjson summary "$summary" --arg pg "$pg_settings" \
    --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    '{phases: ., summary: $summary, postgresql: $pg, load_end: $load}' >"$json_out"
fi
((checks_failed == 0)) || fail "a phase or a check failed (above)"
echo "checks: ok"
