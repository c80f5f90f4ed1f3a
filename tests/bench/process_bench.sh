#!/usr/bin/env bash
# One process per certificate: `hwca sign` run N times against `openssl x509 -req` with
# the pkcs11 engine (libp11's, Debian's libengine-pkcs11-openssl) run N times, both with the
# same ec-p256 CA key in one SoftHSM2 token and the same N pre-made requests.
#
#   tests/bench/process_bench.sh [-n N] [-r ROUNDS] [--dir DIR] [--markdown]
#
#   -n N        requests, and certificates per path and round (default 100)
#   -r ROUNDS   rounds; each times both paths, in turns (odd rounds hwca first; default 4)
#   --dir DIR   make the work folder (token, CA home, requests, certificates) in DIR
#               (default $TMPDIR, else /tmp); its file system is printed
#   --markdown  print the tables as Markdown
#
# Environment: HWCA_BIN (default build/bin/hwca of this checkout).
#
# The CA is made by `hwca ca init --generate ec-p256`; openssl signs with the same token
# key and the CA certificate hwca wrote. Both verify the request's signature. hwca applies
# the "client" profile, picks a random serial it checks against its database, records the
# certificate there and appends to the audit log, each synced; openssl copies the
# request's extensions and adds those of a client certificate (-extfile), picks a random
# serial, and records nothing.
#
# PINs: hwca reads the PIN from a file (HWCA_PIN_SOURCE=file:..., mode 0600). The engine
# reads it from the PIN control of its section in an openssl configuration file in the work
# folder (mode 0600, given as OPENSSL_CONF): no PIN in any argv of hwca or openssl.
# (softhsm2-util, which makes the token before anything is timed, takes them in argv, as
# in the command-line tests.)
#
# Every certificate made is checked with `openssl verify` against the CA certificate (one
# process for all), hwca's audit chain with `hwca audit verify`. Exit status: 0; 1 if a
# command or a check failed; 2 for a usage error. The ratio never fails the run.
set -euo pipefail

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
n=100
rounds=4
parent=${TMPDIR:-/tmp}
markdown=0
while (($#)); do
  case $1 in
    -n) n=${2:?-n needs a number}; shift 2 ;;
    -r) rounds=${2:?-r needs a number}; shift 2 ;;
    --dir) parent=${2:?--dir needs a folder}; shift 2 ;;
    --markdown) markdown=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "process_bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $n =~ ^[1-9][0-9]*$ && $rounds =~ ^[1-9][0-9]*$ ]] ||
  { echo "process_bench.sh: -n and -r need whole numbers above 0" >&2; exit 2; }

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/bench/bench_lib.sh
source "$root/tests/bench/bench_lib.sh"
HWCA_BIN=$(realpath -m "${HWCA_BIN:-$root/build/bin/hwca}")  # the script changes folder
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ -x $HWCA_BIN ]] || fail "HWCA_BIN=$HWCA_BIN is not executable (build hwca first)"
for tool in openssl softhsm2-util; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/setup-deps.sh installs it)"
done
[[ -e $SOFTHSM_MODULE ]] || fail "$SOFTHSM_MODULE is missing (scripts/setup-deps.sh)"
engine_dir=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
[[ -e $engine_dir/pkcs11.so ]] ||
  fail "no pkcs11 engine in $engine_dir (libengine-pkcs11-openssl; scripts/setup-deps.sh)"

WORK=$(mktemp -d "$parent/hwca-pbench.XXXXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
mkdir -m 700 csr out
bench_softhsm_token

KEY='pkcs11:token=bench;object=ca'
"$HWCA_BIN" ca init --name root --key "$KEY" --generate ec-p256 \
  --subject "/CN=hwca process bench root" >/dev/null
CA=$HWCA_HOME/cas/root/cert.pem

# The engine's configuration: its PIN, and the extensions of a client certificate.
(
  umask 077
  cat >engine.cnf <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
MODULE_PATH = $SOFTHSM_MODULE
PIN = $PIN
[v3_client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
)

for ((i = 1; i <= n; i++)); do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj "/CN=client-$i.bench.example" \
    -addext "subjectAltName=DNS:client-$i.bench.example,DNS:alt-$i.bench.example" \
    -out "csr/$i.pem" 2>/dev/null
done

run_hwca() {
  local i
  for ((i = 1; i <= n; i++)); do
    "$HWCA_BIN" sign --ca root --profile client --csr "csr/$i.pem" --out "out/hwca-$1-$i.pem" \
      >/dev/null 2>>hwca.err || fail "hwca sign failed: $(tail -1 hwca.err)"
  done
}
run_openssl() {
  local i
  for ((i = 1; i <= n; i++)); do
    OPENSSL_CONF=$WORK/engine.cnf openssl x509 -req -engine pkcs11 -CAkeyform engine \
      -CAkey "$KEY;type=private" -CA "$CA" -in "csr/$i.pem" -out "out/openssl-$1-$i.pem" \
      -days 365 -copy_extensions copy -extfile engine.cnf -extensions v3_client \
      >/dev/null 2>>openssl.err || fail "openssl x509 failed: $(tail -3 openssl.err)"
  done
}
# timed PATH ROUND: run the path's N commands; prints "wall user sys" in seconds (their
# own messages still go to stderr).
timed() {
  local TIMEFORMAT='%3R %3U %3S'
  { time "run_$1" "$2" >/dev/null 2>&3; } 3>&2 2>"$WORK/time.txt" || exit 1
  cat "$WORK/time.txt"
}

fs=$(df -PT "$WORK" | awk 'NR == 2 { print $2 " (" $1 " on " $7 ")" }')
echo "$(openssl version); $(nproc) CPUs; $n certificates per path and round, $rounds rounds" >&2
echo "work folder $WORK on $fs; load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

declare -a hw os
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2 == 1)); then
    hw[r]=$(timed hwca "$r")
    os[r]=$(timed openssl "$r")
  else
    os[r]=$(timed openssl "$r")
    hw[r]=$(timed hwca "$r")
  fi
  echo "round $r: hwca ${hw[r]%% *} s, openssl ${os[r]%% *} s (wall)" >&2
done

# Checks: every certificate verifies against the CA; hwca's records and audit chain agree.
verify_out=$(openssl verify -CAfile "$CA" out/*.pem 2>&1) || fail "openssl verify: $verify_out"
made=$(find out -name '*.pem' | wc -l)
ok=$(grep -c ': OK$' <<<"$verify_out")
((made == 2 * n * rounds && ok == made)) ||
  fail "$ok of $made certificates verify (expected $((2 * n * rounds)))"
[[ $(openssl x509 -in "out/hwca-1-1.pem" -noout -ext subjectAltName) == *"alt-1.bench.example"* ]] ||
  fail "hwca's certificate lacks the request's names"
[[ $(openssl x509 -in "out/openssl-1-1.pem" -noout -ext subjectAltName) == *"alt-1.bench.example"* ]] ||
  fail "openssl's certificate lacks the request's names"
audit=$("$HWCA_BIN" audit verify 2>&1) || fail "hwca audit verify: $audit"
issued=$(grep -c '"event":"cert.issued"' "$HWCA_HOME/audit.log")
((issued == n * rounds)) || fail "the audit log has $issued cert.issued lines, not $((n * rounds))"
echo "checked: $made certificates verify against the CA; hwca's audit chain holds $issued issued" >&2

awk -v markdown="$markdown" -v n="$n" -v hw="${hw[*]}" -v os="${os[*]}" '
function row(a, b, c, d, e, f, g) {
  if (markdown) printf "| %s | %s | %s | %s | %s | %s | %s |\n", a, b, c, d, e, f, g
  else printf "%-8s %10s %10s %8s %12s %12s %8s\n", a, b, c, d, e, f, g
}
BEGIN {
  split(hw, h, " "); split(os, o, " ")
  rounds = length(h) / 3
  row("round", "hwca s", "openssl s", "ratio", "hwca ms/cert", "openssl ms/cert", "")
  if (markdown) print "|---|---:|---:|---:|---:|---:|---|"
  for (r = 1; r <= rounds; r++) {
    hwall = h[3 * r - 2]; owall = o[3 * r - 2]
    ratio[r] = hwall / owall
    th += hwall; to += owall
    hcpu += h[3 * r - 1] + h[3 * r]; ocpu += o[3 * r - 1] + o[3 * r]
    row(r, sprintf("%.2f", hwall), sprintf("%.2f", owall), sprintf("%.2f", ratio[r]),
        sprintf("%.1f", 1000 * hwall / n), sprintf("%.1f", 1000 * owall / n), "")
  }
  # the median of the per-round ratios
  for (i = 1; i <= rounds; i++) for (j = i + 1; j <= rounds; j++)
    if (ratio[j] < ratio[i]) { t = ratio[i]; ratio[i] = ratio[j]; ratio[j] = t }
  med = rounds % 2 ? ratio[(rounds + 1) / 2] : (ratio[rounds / 2] + ratio[rounds / 2 + 1]) / 2
  row("total", sprintf("%.2f", th), sprintf("%.2f", to), sprintf("%.2f", th / to),
      sprintf("%.1f", 1000 * th / (n * rounds)), sprintf("%.1f", 1000 * to / (n * rounds)), "")
  row("cpu", sprintf("%.2f", hcpu), sprintf("%.2f", ocpu), sprintf("%.2f", hcpu / ocpu),
      sprintf("%.1f", 1000 * hcpu / (n * rounds)), sprintf("%.1f", 1000 * ocpu / (n * rounds)),
      "(user+sys)")
  printf "\nhwca/openssl: %.2f of the total wall time; median of the per-round ratios %.2f\n",
    th / to, med
}'
