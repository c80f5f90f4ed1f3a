#!/usr/bin/env bash
# Three `hwca serve` instances, each its own home, on one PostgreSQL database (a fresh one
# on the tests' shared server) and one SoftHSM2 token served by p11-kit's server (one
# server process, three clients): the CA is made once and adopted by the other homes.
#   1. enrollment load spread over the three: every reply is 200 and one certificate that
#      verifies against the CA, no serial twice, each recorded and audited (the database's
#      certificates and the chain's cert.issued lines are one set), every instance's
#      metrics count its share;
#   2. two instances race one bootstrap token, 100 rounds: each round exactly one 200 and
#      one 401 ("already used"), every token ends used;
#   3. the same serial revoked at once from two homes: one success, one refusal (exit 6,
#      "already revoked"); other serials revoked from two homes while two others make CRLs:
#      all end revoked, the CRL numbers are distinct, rise in each home and leave no gap,
#      and the last CRL lists every revoked serial;
#   4. one instance SIGKILLed in the middle of a load: the other two answer every request
#      200, before and after; every 200 from any of the three is recorded and audited and
#      `hwca audit verify` finds the chain intact and everything accounted for.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=pg_lib.sh
source "$here/pg_lib.sh"

three_instances pg_shared_db
# One TLS key in the token (made by the first), a certificate of each instance's own.
tls_serials=()
for i in 1 2 3; do
  line=${INST_LINE[i]}
  [[ $line =~ TLS\ certificate\ ([0-9a-f]+)\ .*object=root-est-tls-[0-9a-f]{8} ]] ||
    fail "instance $i's line: $line"
  tls_serials+=("${BASH_REMATCH[1]}")
  if ((i == 1)); then
    [[ $line == *"(made now)"* ]] || fail "instance 1 did not make the TLS key: $line"
  else
    [[ $line != *"(made now)"* ]] || fail "instance $i made another TLS key: $line"
  fi
done
[[ $(printf '%s\n' "${tls_serials[@]}" | sort -u | wc -l) == 3 ]] ||
  fail "the instances share a TLS certificate: ${tls_serials[*]}"
echo "setup: $((SECONDS - T_START)) s"

# --- 1. enrollment load spread over the three instances --------------------------------------

# Twelve nodes enroll with bootstrap tokens (made in all three homes), four on each instance,
# all at once; then six clients renew, 120 requests in turn over the three instances.
NODES=()
for k in $(seq -w 1 12); do NODES+=("n$k"); done
declare -A SERVED=([1]=0 [2]=0 [3]=0)
mkdir enroll
k=0
pids=()
for n in "${NODES[@]}"; do
  i=$((k % 3 + 1)) k=$((k + 1))
  node_new "$n"
  t=$(hwca_home "$i" bootstrap create --node "$n" 2>/dev/null)
  [[ $t =~ ^[a-z0-9]{6}\.[a-z0-9]{32}$ ]] || fail "bootstrap create printed '$t'"
  (
    est_post "$i" simpleenroll "$n" "enroll/$n.body" -u "$n:$t"
    echo "$i $CURL_RC $CODE" >"enroll/$n.res"
  ) &
  pids+=("$!")
done
for p in "${pids[@]}"; do wait "$p"; done
for n in "${NODES[@]}"; do
  read -r i rc code <"enroll/$n.res"
  [[ $rc == 0 && $code == 200 ]] ||
    fail "enrollment of $n on instance $i: curl $rc, status $code: $(cat "enroll/$n.body" "enroll/$n.body.err")"
  reply_cert "enroll/$n.body" "$n.pem" || fail "enrollment of $n: the reply is not one certificate"
  SERVED[$i]=$((SERVED[$i] + 1))
done
[[ $(openssl x509 -in n05.pem -noout -subject) == "subject=O = system:nodes, CN = system:node:n05" ]] ||
  fail "n05's certificate: $(openssl x509 -in n05.pem -noout -subject)"

LOAD_NODES=("${NODES[@]}")
t0=$SECONDS
load_start load1 6 20 1 2 3
load_wait load1
load_secs=$((SECONDS - t0))
: >load1.serials
while read -r id i rc code _; do
  [[ $rc == 0 && $code == 200 ]] ||
    fail "renewal $id on instance $i: curl $rc, status $code: $(cat "load1/$id.body" "load1/$id.body.err")"
  SERVED[$i]=$((SERVED[$i] + 1))
done < <(cat load1/log.*)
n_load=$(load_count load1)
((n_load == 120)) || fail "120 renewals sent, $n_load answered"
for i in 1 2 3; do
  ((SERVED[$i] == 44)) || fail "instance $i served ${SERVED[$i]} of the 132 enrollments, expected 44"
done
certs_verify "${NODES[@]/%/.pem}" load1/*.pem
serials_of "${NODES[@]/%/.pem}" load1/*.pem >load1.serials
[[ $(wc -l <load1.serials) == 132 ]] || fail "$(wc -l <load1.serials) serials read from 132 certificates"
accounted load1.serials "enrollment load"
# Each instance counts what it issued, and nothing for another.
for i in 1 2 3; do
  m=$(curl -sS --max-time 15 --cacert "$CA_PEM" "${INST_BASE[i]}/metrics" |
    awk '$1 == "hwca_est_issued_total{label=\"kubelet-client\"}" {print $2}')
  [[ $m == "${SERVED[$i]}" ]] || fail "instance $i's metrics: $m issued, it served ${SERVED[$i]}"
done
echo "1. load: 12 enrollments and 120 renewals over 3 instances in $load_secs s: 132 serials, all recorded and audited"

# --- 2. two instances race one bootstrap token, 100 rounds ---------------------------------

node_new racer
mkdir race
RACE_TOKENS=()
for r in $(seq 0 99); do
  t=$(hwca_home $((r % 3 + 1)) bootstrap create --node racer 2>/dev/null)
  [[ $t =~ ^[a-z0-9]{6}\.[a-z0-9]{32}$ ]] || fail "bootstrap create printed '$t'"
  RACE_TOKENS+=("$t")
done
t0=$SECONDS
: >race.serials
for r in $(seq 0 99); do
  a=$((r % 3 + 1)) b=$(((r + 1) % 3 + 1)) t=${RACE_TOKENS[r]}
  (
    est_post "$a" simpleenroll racer "race/$r.a" -u "racer:$t"
    echo "$CURL_RC $CODE" >"race/$r.a.res"
  ) &
  pa=$!
  (
    est_post "$b" simpleenroll racer "race/$r.b" -u "racer:$t"
    echo "$CURL_RC $CODE" >"race/$r.b.res"
  ) &
  pb=$!
  wait "$pa" "$pb"
  read -r rca codea <"race/$r.a.res"
  read -r rcb codeb <"race/$r.b.res"
  [[ $rca == 0 && $rcb == 0 ]] || fail "race $r: curl exited $rca and $rcb"
  if [[ $codea == 200 && $codeb == 401 ]]; then
    win=a lose=b
  elif [[ $codea == 401 && $codeb == 200 ]]; then
    win=b lose=a
  else
    fail "race $r (token ${t%%.*}, instances $a and $b): statuses $codea and $codeb, expected one 200 and one 401"
  fi
  assert_contains "$(cat "race/$r.$lose")" "bootstrap token '${t%%.*}' was already used" "race $r: the 401"
  reply_cert "race/$r.$win" "race/$r.pem" || fail "race $r: the 200 is not one certificate"
done
race_secs=$((SECONDS - t0))
serials_of race/*.pem >race.serials
[[ $(wc -l <race.serials) == 100 ]] || fail "$(wc -l <race.serials) serials from 100 winners"
certs_verify race/*.pem
states=$(hwca_home 2 bootstrap list -o json | jq -r '.[] | select(.node == "racer") | .state' | sort | uniq -c)
[[ $(awk '{$1=$1; print}' <<<"$states") == "100 used" ]] || fail "the race's tokens: $states"
cat load1.serials race.serials >all.serials
accounted all.serials "token race"
echo "2. token race: 100 rounds in $race_secs s, each one 200 and one 401; 100 tokens used"

# --- 3. concurrent revocations and CRLs on two homes ---------------------------------------

# Renewals only: the nodes' first certificates stay valid for section 4's clients.
mapfile -t REV < <(serials_of load1/*.pem | head -n 40)
((${#REV[@]} == 40)) || fail "40 serials to revoke, got ${#REV[@]}"
mkdir rev
# The same serial from homes 1 and 2 at once, ten times.
for s in "${REV[@]:0:10}"; do
  hwca_to "rev/$s.1" 1 revoke --ca root "$s" --reason superseded &
  p1=$!
  hwca_to "rev/$s.2" 2 revoke --ca root "$s" --reason superseded &
  p2=$!
  wait "$p1" "$p2"
  hwca_to_logs "rev/$s.1.err" "rev/$s.2.err"
  rcs="$(cat "rev/$s.1.rc") $(cat "rev/$s.2.rc")"
  case $rcs in
    "0 6") win=1 lose=2 ;;
    "6 0") win=2 lose=1 ;;
    *) fail "revoking $s from two homes at once: exits $rcs, expected one 0 and one 6: $(cat "rev/$s.1.err" "rev/$s.2.err")" ;;
  esac
  [[ $(cat "rev/$s.$win.out") == "revoked $s (superseded)" ]] || fail "revoke $s: $(cat "rev/$s.$win.out")"
  err=$(cat "rev/$s.$lose.err")
  [[ $err == "hwca: "*"certificate $s of CA 'root' was already revoked at "* && $(wc -l <<<"$err") == 1 ]] ||
    fail "the second revocation of $s: $err"
  [[ ! -s rev/$s.$lose.out ]] || fail "the refused revocation of $s printed: $(cat "rev/$s.$lose.out")"
done
# Fifteen other serials from each of homes 1 and 2, while homes 2 and 3 make four CRLs each.
revoke_list() {
  local home=$1 s
  shift
  for s in "$@"; do hwca_to "rev/$s.$home" "$home" revoke --ca root "$s" --reason affiliationChanged; done
}
# SoftHSM2 rewrites its token.object at every login, and another process (p11-kit's server
# runs a module instance per client) that reads it meanwhile may find the token missing
# (SoftHSMv2 issue 757; hwca says CKR_SLOT_ID_INVALID, or that it cannot list the slots):
# a `hwca crl` refused for the token (exit 3 or 5, naming the token or the PKCS#11 module)
# is tried again, twice at most; it took no CRL number (the numbers are checked below).
crl_loop() {
  local home=$1 c p try
  for c in 1 2 3 4; do
    p=rev/crl-$home-$c
    for try in 1 2 3; do
      hwca_to "$p" "$home" crl --ca root --days 1 --out "$p.pem"
      [[ $(cat "$p.rc") == [35] && $(cat "$p.err") == *@(token|PKCS#11)* && $try != 3 ]] || break
      cat "$p.err" >>rev/token-retries
    done
  done
}
pids=()
revoke_list 1 "${REV[@]:10:15}" &
pids+=("$!")
revoke_list 2 "${REV[@]:25:15}" &
pids+=("$!")
crl_loop 2 &
pids+=("$!")
crl_loop 3 &
pids+=("$!")
for p in "${pids[@]}"; do wait "$p"; done
retries=0
if [[ -f rev/token-retries ]]; then
  hwca_to_logs rev/token-retries
  retries=$(wc -l <rev/token-retries)
  echo "note: $retries CRL(s) tried again after the token went missing: $(sort rev/token-retries | uniq -c | head -n 3)"
fi
for s in "${REV[@]:10:15}" "${REV[@]:25:15}"; do
  f=$(echo rev/"$s".[12].rc)
  hwca_to_logs "${f%.rc}.err"
  [[ $(cat "$f") == 0 ]] || fail "revoking $s: exit $(cat "$f"): $(cat "${f%.rc}.err")"
done
# crl_number PEM: the CRL's number as openssl reads it; it must verify with the CA.
crl_number() {
  local out
  out=$(openssl crl -in "$1" -CAfile "$CA_PEM" -noout -text 2>&1) || fail "openssl crl $1: $out"
  assert_contains "$out" "verify OK" "openssl crl $1"
  awk '/X509v3 CRL Number:/ { getline; gsub(/ /, ""); print }' <<<"$out"
}
numbers=()
for home in 2 3; do
  prev=0
  for c in 1 2 3 4; do
    p=rev/crl-$home-$c
    hwca_to_logs "$p.err"
    [[ $(cat "$p.rc") == 0 ]] || fail "hwca crl in home $home: exit $(cat "$p.rc"): $(cat "$p.err")"
    n=$(crl_number "$p.pem")
    assert_contains "$(cat "$p.out")" "CRL #$n of CA 'root'" "hwca crl's summary"
    ((n > prev)) || fail "home $home's CRL numbers do not rise: $prev, then $n"
    prev=$n
    numbers+=("$n")
  done
done
[[ $(printf '%s\n' "${numbers[@]}" | sort -n | tr '\n' ' ') == "1 2 3 4 5 6 7 8 " ]] ||
  fail "the eight CRLs made at once have numbers ${numbers[*]}, expected 1 to 8 once each"
# Every serial is revoked, in the database and for `hwca cert list` of the third home.
revoked=$(pg_sql "SELECT serial FROM certs WHERE ca = 'root' AND revoked_at IS NOT NULL ORDER BY serial")
[[ $revoked == "$(printf '%s\n' "${REV[@]}" | sort)" ]] ||
  fail "the database's revoked serials differ from the 40 revoked: $(diff <(echo "$revoked") <(printf '%s\n' "${REV[@]}" | sort) | grep '^[<>]' | tr '\n' ' ')"
listed=$(hwca_home 3 cert list --ca root | awk '$4 == "revoked" {print $1}' | sort)
[[ $listed == "$revoked" ]] || fail "hwca cert list's revoked serials differ from the database's"
# The last CRL, after them all: number 9, listing exactly the 40.
out=$(hwca_home 1 crl --ca root --days 1 --out rev/last.pem)
assert_contains "$out" "CRL #9 of CA 'root': 40 revoked" "the last CRL"
[[ $(crl_number rev/last.pem) == 9 ]] || fail "the last CRL's number is $(crl_number rev/last.pem)"
on_crl=$(openssl crl -in rev/last.pem -noout -text |
  awk '/Serial Number:/ {s = $3; print tolower(s)}' | sort)
[[ $on_crl == "$revoked" ]] ||
  fail "the last CRL does not list exactly the revoked serials: $(diff <(echo "$on_crl") <(echo "$revoked") | grep '^[<>]' | tr '\n' ' ')"
# The chain has each revocation once, and each CRL.
n=$(pg_sql "SELECT count(*) FROM audit_events WHERE line::json->>'event' = 'cert.revoked'")
((n == 40)) || fail "$n cert.revoked lines in the audit chain, expected 40"
n=$(pg_sql "SELECT count(DISTINCT line::json->'data'->>'number') FROM audit_events WHERE line::json->>'event' = 'crl.published'")
((n == 9)) || fail "$n CRL numbers in the audit chain's crl.published lines, expected 9"
accounted all.serials "revocations"
assert_contains "$AUDIT_VERIFY" "(40 revoked)" "audit verify after the revocations"
echo "3. revoke and CRL: 10 double revocations refused once each, 30 more revoked beside 8 CRLs (numbers 1-8; $retries tried again), CRL #9 lists all 40"

# --- 4. one instance SIGKILLed in the middle of a load ---------------------------------------

t0=$SECONDS
load_start load4 6 30 1 2 3
for _ in $(seq 300); do
  (($(load_count load4) >= 30)) && break
  sleep 0.05
done
(($(load_count load4) >= 30)) || fail "30 renewals did not get through in 15 s"
t_kill=$EPOCHREALTIME
inst_kill 3 KILL
load_wait load4
kill_secs=$((SECONDS - t0))
after=0 failed3=0 ok3=0
: >load4.ok
while read -r id i rc code end; do
  if ((i != 3)); then
    [[ $rc == 0 && $code == 200 ]] ||
      fail "renewal $id on instance $i (alive): curl $rc, status $code: $(cat "load4/$id.body" "load4/$id.body.err" 2>/dev/null)"
    if ((${end/./} > ${t_kill/./})); then after=$((after + 1)); fi
  elif [[ $rc == 0 && $code == 200 ]]; then
    ok3=$((ok3 + 1))
  else
    # Refused (7), or cut by the kill (35, 52, 55, 56): never another status.
    [[ $rc == 7 || $rc == 35 || $rc == 52 || $rc == 55 || $rc == 56 ]] ||
      fail "renewal $id on instance 3 (killed): curl $rc, status $code: $(cat "load4/$id.body.err")"
    failed3=$((failed3 + 1))
  fi
  if [[ $code == 200 ]]; then echo "load4/$id.pem" >>load4.ok; fi
done < <(cat load4/log.*)
((after >= 30)) || fail "only $after renewals by the two other instances after the kill"
((failed3 >= 10)) || fail "only $failed3 requests to the killed instance failed: was it killed mid-load?"
((ok3 >= 5)) || fail "the killed instance answered $ok3 requests before the kill"
mapfile -t ok_pems <load4.ok
certs_verify "${ok_pems[@]}"
serials_of "${ok_pems[@]}" >>all.serials
for i in 1 2; do
  out=$(curl -sS --max-time 15 --cacert "$CA_PEM" "${INST_BASE[i]}/healthz") || fail "healthz of instance $i"
  [[ $out == "ok: "* ]] || fail "healthz of instance $i: $out"
done
accounted all.serials "after the SIGKILL"
echo "4. SIGKILL: ${#ok_pems[@]} renewals handed out ($ok3 by the killed instance), $after by the others after the kill, $failed3 refused by the dead one; $kill_secs s"

# The two others stop cleanly.
for i in 1 2; do inst_stop "$i"; done
# Started again, instance 1 presents the TLS certificate it was given at its first start
# (kept in its home; the CA's folder is made there for a CA of the shared database): a
# restart issues nothing.
before=$(pg_sql "SELECT count(*) FROM certs")
inst_start 1 --workers 4
line=${INST_LINE[1]}
[[ $line == *"TLS certificate ${tls_serials[0]} "*", kept from the last start)" ]] ||
  fail "instance 1 started again did not present its kept TLS certificate ${tls_serials[0]}: $line"
! grep -q "cannot keep the TLS certificate" "$WORK/serve-1.err" ||
  fail "instance 1: $(grep "cannot keep" "$WORK/serve-1.err")"
[[ $(pg_sql "SELECT count(*) FROM certs") == "$before" ]] || fail "a restarted instance issued a certificate"
inst_kill 1
echo "ok: three instances on one database and one token: $(wc -l <all.serials) certificates handed out, all recorded and audited; $((SECONDS - T_START)) s"
echo "$AUDIT_VERIFY" | head -n 1
