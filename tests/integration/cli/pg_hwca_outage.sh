#!/usr/bin/env bash
# Three `hwca serve` instances on one PostgreSQL database (a server of this script's own,
# $HWCA_PG_FIXTURE, which it restarts and kills; never the tests' shared one) and one
# SoftHSM2 token served by p11-kit's server, under a steady enrollment load while the
# database goes away twice: a fast restart, then a crash (SIGKILL) and two seconds down
# before it comes back. During the outage every instance answers 503 with Retry-After
# (healthz and enrollments; a bootstrap token tried then is not spent), never another
# status and never a dropped connection; after it the same processes, not restarted, answer
# 200 again by themselves. Nothing is lost: every certificate handed out, before, between
# or after, is in the database and audited, the database and the audit chain hold the same
# certificates, `hwca audit verify` finds the chain intact, and each instance's metrics
# count the 200s and 503s its clients got.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=pg_lib.sh
source "$here/pg_lib.sh"

three_instances pg_private_server
declare -A PIDS0=()
for i in 1 2 3; do PIDS0[$i]=${INST_PID[i]}; done

# Six nodes enroll with bootstrap tokens, two on each instance; they renew under the load.
NODES=(o1 o2 o3 o4 o5 o6)
mkdir enroll
k=0
for n in "${NODES[@]}"; do
  i=$((k % 3 + 1)) k=$((k + 1))
  node_new "$n"
  t=$(hwca_home "$i" bootstrap create --node "$n" 2>/dev/null)
  est_post "$i" simpleenroll "$n" "enroll/$n.body" -u "$n:$t"
  [[ $CURL_RC == 0 && $CODE == 200 ]] || fail "enrollment of $n: curl $CURL_RC, status $CODE"
  reply_cert "enroll/$n.body" "$n.pem" || fail "enrollment of $n: the reply is not one certificate"
done
node_new late
LATE_TOKEN=$(hwca_home 2 bootstrap create --node late 2>/dev/null)

# get I PATH: GET PATH of instance I; STATUS its status, HDRS its headers, BODY its body.
get() {
  STATUS=$(curl -sS --max-time 15 --cacert "$CA_PEM" -D "$WORK/get.hdr" -o "$WORK/get.body" \
    -w '%{http_code}' "${INST_BASE[$1]}$2") || fail "GET $2 of instance $1: curl failed"
  HDRS=$(tr -d '\r' <"$WORK/get.hdr") BODY=$(cat "$WORK/get.body")
}
# healthy_within I SECONDS: instance I's /healthz answers 200 within SECONDS.
healthy_within() {
  local end=$((SECONDS + $2))
  while ((SECONDS < end)); do
    get "$1" /healthz
    [[ $STATUS == 200 ]] && return 0
    sleep 0.1
  done
  fail "instance $1's healthz still answers $STATUS '$BODY' $2 s after the database came back"
}
# answered: requests of the load answered so far.
answered() { load_count load; }
wait_answered() {
  local want=$1
  for _ in $(seq 400); do
    (($(answered) >= want)) && return 0
    sleep 0.05
  done
  fail "the load got $(answered) answers in 20 s, expected $want"
}

# Four clients renew in turn over the three instances, a pause of 50 ms between two
# requests of one, until told to stop.
LOAD_NODES=("${NODES[@]}")
LOAD_PAUSE=0.05
load_start load 4 100000 1 2 3
wait_answered 40

# --- 1. a fast restart ------------------------------------------------------------------------

"$HWCA_PG_FIXTURE" restart "$PG_PRIVATE" >"$WORK/pg.out" 2>&1 || fail "restart: $(cat "$WORK/pg.out")"
for i in 1 2 3; do healthy_within "$i" 10; done
mark=$(answered)
wait_answered $((mark + 30))

# --- 2. a crash, down for two seconds -----------------------------------------------------------

"$HWCA_PG_FIXTURE" kill "$PG_PRIVATE" >"$WORK/pg.out" 2>&1 || fail "kill: $(cat "$WORK/pg.out")"
t_down=$EPOCHREALTIME
sleep 0.3
# Every instance says so: healthz and an enrollment get 503 with Retry-After, and the
# bootstrap token of that enrollment is not spent.
for i in 1 2 3; do
  get "$i" /healthz
  [[ $STATUS == 503 ]] || fail "instance $i's healthz with the database down: $STATUS $BODY"
  grep -qi '^retry-after: [0-9]' <<<"$HDRS" || fail "instance $i's 503 has no Retry-After: $HDRS"
done
est_post 2 simpleenroll late late.body -u "late:$LATE_TOKEN" -D late.hdr
[[ $CURL_RC == 0 && $CODE == 503 ]] || fail "an enrollment with the database down: curl $CURL_RC, status $CODE: $(cat late.body)"
grep -qi '^retry-after: 30' <(tr -d '\r' <late.hdr) || fail "the enrollment's 503 has no Retry-After: 30"
assert_contains "$(cat late.body)" "the CA cannot issue now; retry later" "the 503"
sleep 1.7
"$HWCA_PG_FIXTURE" restart "$PG_PRIVATE" >"$WORK/pg.out" 2>&1 || fail "restart after the kill: $(cat "$WORK/pg.out")"
t_up=$EPOCHREALTIME
for i in 1 2 3; do healthy_within "$i" 10; done
t_healthy=$EPOCHREALTIME
mark=$(answered)
wait_answered $((mark + 45))
load_wait load stop

# The token tried during the outage is still good, once.
est_post 3 simpleenroll late late2.body -u "late:$LATE_TOKEN"
[[ $CURL_RC == 0 && $CODE == 200 ]] || fail "the token tried during the outage, afterwards: status $CODE: $(cat late2.body)"
reply_cert late2.body late.pem || fail "late's reply is not one certificate"

# --- what the clients got ---------------------------------------------------------------------

us() { local t=${1/./}; echo "$((10#$t))"; }
declare -A OK=() UNAVAILABLE=() OK_AFTER=()
n503_down=0 late503=0
: >ok.list
while read -r id i rc code end; do
  [[ $rc == 0 ]] || fail "request $id to instance $i: curl exit $rc (the instances never stopped): $(cat "load/$id.body.err")"
  case $code in
    200)
      OK[$i]=$((${OK[$i]:-0} + 1))
      echo "load/$id.pem" >>ok.list
      if (($(us "$end") > $(us "$t_healthy"))); then OK_AFTER[$i]=$((${OK_AFTER[$i]:-0} + 1)); fi
      ;;
    503)
      UNAVAILABLE[$i]=$((${UNAVAILABLE[$i]:-0} + 1))
      assert_contains "$(cat "load/$id.body")" "the CA cannot issue now; retry later" "request $id's 503"
      if (($(us "$end") > $(us "$t_down") && $(us "$end") < $(us "$t_up"))); then n503_down=$((n503_down + 1)); fi
      # Once healthz said ok again, at most a connection of the pool that broke is found so.
      if (($(us "$end") > $(us "$t_healthy") + 5000000)); then late503=$((late503 + 1)); fi
      ;;
    *) fail "request $id to instance $i: status $code, expected 200 or 503: $(cat "load/$id.body")" ;;
  esac
done < <(cat load/log.*)
((n503_down >= 3)) || fail "only $n503_down requests of the load got 503 while the database was down"
((late503 == 0)) || fail "$late503 requests got 503 more than 5 s after every instance was healthy again"
for i in 1 2 3; do
  ((${OK_AFTER[$i]:-0} >= 5)) || fail "instance $i answered ${OK_AFTER[$i]:-0} requests 200 after the outage"
  if [[ ${INST_PID[i]} != "${PIDS0[$i]}" ]] || ! kill -0 "${INST_PID[i]}"; then
    fail "instance $i is not the process started first"
  fi
done

# Each instance counts what its clients saw: the 200s and the 503s of the renewals.
for i in 1 2 3; do
  m=$(curl -sS --max-time 15 --cacert "$CA_PEM" "${INST_BASE[i]}/metrics") || fail "metrics of instance $i"
  got200=$(awk '$1 == "hwca_est_requests_total{endpoint=\"simplereenroll\",code=\"200\"}" {print $2}' <<<"$m")
  got503=$(awk '$1 == "hwca_est_requests_total{endpoint=\"simplereenroll\",code=\"503\"}" {print $2}' <<<"$m")
  [[ ${got200:-0} == "${OK[$i]:-0}" && ${got503:-0} == "${UNAVAILABLE[$i]:-0}" ]] ||
    fail "instance $i's metrics: ${got200:-0} renewals 200 and ${got503:-0} 503, its clients got ${OK[$i]:-0} and ${UNAVAILABLE[$i]:-0}"
  errors=$(awk '$1 == "hwca_database_errors_total" {print $2}' <<<"$m")
  ((${errors:-0} > 0)) || fail "instance $i counted no database error"
done

# --- nothing lost ------------------------------------------------------------------------------

mapfile -t ok_pems <ok.list
certs_verify "${NODES[@]/%/.pem}" late.pem "${ok_pems[@]}"
serials_of "${NODES[@]/%/.pem}" late.pem "${ok_pems[@]}" >all.serials
accounted all.serials "after the outages"
state=$(hwca_home 1 bootstrap list -o json | jq -r '.[] | select(.node == "late") | .state')
[[ $state == used ]] || fail "late's token is $state after its enrollment"

total=$((${OK[1]:-0} + ${OK[2]:-0} + ${OK[3]:-0})) unavailable=$((${UNAVAILABLE[1]:-0} + ${UNAVAILABLE[2]:-0} + ${UNAVAILABLE[3]:-0}))
for i in 1 2 3; do inst_stop "$i"; done
echo "ok: the database restarted and crashed under load: $total renewals handed out, all recorded and audited;" \
  "$unavailable answered 503 ($n503_down while it was down); $((SECONDS - T_START)) s"
