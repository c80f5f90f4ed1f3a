# shellcheck shell=bash
# Resource faults for the CLI tests: a small file system that fills up or turns read-only
# under hwca, and EST clients that keep a server busy. Source it after lib.sh and est_lib.sh.
#   resource_private_mounts "$@"   first thing in a script: run the script again in a
#                       private mount namespace (`unshare -m`), so that what it mounts is
#                       gone with it even if it dies; exit 77 (ctest SKIP_RETURN_CODE) with
#                       the reason when mounting is not permitted here
#   small_fs DIR SIZE   a tmpfs of SIZE (tmpfs syntax: 4m) mounted at DIR (made)
#   fill_fs DIR         fill DIR's file system (the file DIR/.filler); unfill_fs DIR frees it
#   readonly_fs DIR / writable_fs DIR   remount DIR's tmpfs read-only / read-write
#   umount_all          unmount (lazily) every file system small_fs mounted (for EXIT handlers)
#   enroll_client NAME  a kubelet-client certificate for worker-1 by a bootstrap token (its
#                       key NAME.key, its certificate NAME.pem, the request NAME.b64 for
#                       renewals); needs BASE and ROOT (the server and its CA)
#   renew_once NAME OUT  one simplereenroll with NAME's certificate over mutual TLS: the
#                       reply in OUT.body, the headers in OUT.hdr; prints "CURL_RC HTTP_CODE"
#   load_start NAME     four clients renew with NAME's certificate in a loop, in the background
#                       (their pids in BG_PIDS, which the script's EXIT handler stops); each
#                       reply is a line "W I CURL_RC HTTP_CODE" in loop/W.log, its body in
#                       loop/W.I.body and headers in loop/W.I.hdr
#   load_stop           make them stop and wait for them; load_count: replies so far
#   p7_serial FILE      the serial (lower-case hex) of the one certificate of the EST reply FILE
#   metric NAME         the value of the metrics line NAME (0 if absent) of the server at BASE
#   db_serials          the serials of `hwca cert list -o json`, one a line
#   audit_verified      `hwca audit verify` exits 0, or the test fails with its output
#   all_recorded FILE   the serials in FILE (handed out) are distinct, recorded and audited
#   consistent_after_outage FILE [LOG]  audit verify passes, but for certificates withheld
#                       (not in FILE): recorded, then the disk filled or the process died
#                       before their audit line

resource_private_mounts() {
  if [[ ${HWCA_PRIVATE_MOUNTS:-} != 1 ]]; then
    command -v unshare >/dev/null || { echo "SKIP: unshare (util-linux) is not installed" >&2; exit 77; }
    local why
    if ! why=$(unshare -m true 2>&1); then
      echo "SKIP: cannot make a private mount namespace here (unshare -m: $why)" >&2
      exit 77
    fi
    HWCA_PRIVATE_MOUNTS=1 exec unshare -m --propagation private bash "$0" "$@"
  fi
  local probe why
  probe=$(mktemp -d "${TMPDIR:-/tmp}/hwca-mount-probe.XXXXXX")
  if ! why=$(mount -t tmpfs -o size=64k tmpfs "$probe" 2>&1); then
    rmdir "$probe"
    echo "SKIP: mounting a tmpfs is not permitted here (mount: $why)" >&2
    exit 77
  fi
  umount "$probe"
  rmdir "$probe"
}

SMALL_FS=()
small_fs() {
  mkdir -p "$1"
  mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" || fail "cannot mount a tmpfs at $1"
  SMALL_FS+=("$1")
}
umount_all() {
  local d
  for d in "${SMALL_FS[@]}"; do umount -l "$d" 2>/dev/null; done
  SMALL_FS=()
  return 0
}
fill_fs() {
  # dd stops at ENOSPC; a few small files then take the last partial blocks' neighbours.
  dd if=/dev/zero of="$1/.filler" bs=64k 2>/dev/null || true
  dd if=/dev/zero of="$1/.filler2" bs=4k 2>/dev/null || true
  local avail
  avail=$(df --output=avail "$1" | tail -n 1)
  ((avail == 0)) || fail "$1 still has $avail KiB free after filling it"
}
unfill_fs() { rm -f "$1/.filler" "$1/.filler2"; }
readonly_fs() { mount -o remount,ro "$1" || fail "cannot remount $1 read-only"; }
writable_fs() { mount -o remount,rw "$1" || fail "cannot remount $1 read-write"; }

enroll_client() {
  local name=$1 t rc=0 code
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name.key"
  openssl req -new -key "$name.key" -subj "/O=system:nodes/CN=system:node:worker-1" \
    -outform DER -out "$name.der"
  openssl base64 -in "$name.der" -out "$name.b64"
  t=$(hwca bootstrap create --node worker-1 2>/dev/null) || fail "bootstrap create failed"
  code=$(curl -sS --max-time 15 --cacert "$ROOT" -u "worker-1:$t" \
    -H "Content-Type: application/pkcs10" --data-binary "@$name.b64" -o "$name.p7" \
    -w '%{http_code}' "$BASE/.well-known/est/simpleenroll" 2>"$name.err") || rc=$?
  [[ $rc == 0 && $code == 200 ]] || fail "enrollment of $name: curl $rc, HTTP $code: $(cat "$name.err" "$name.p7")"
  p7_pem "$name.p7" "$name.pem"
}

renew_once() {
  local name=$1 out=$2 rc=0 code
  code=$(curl -sS --max-time 15 --cacert "$ROOT" --cert "$name.pem" --key "$name.key" \
    -H "Content-Type: application/pkcs10" --data-binary "@$name.b64" -o "$out.body" \
    -D "$out.hdr" -w '%{http_code}' "$BASE/.well-known/est/simplereenroll" 2>"$out.err") || rc=$?
  echo "$rc $code"
}

BG_PIDS=()
_load_loop() {
  local w=$1 i=0
  while [[ ! -e loop/stop ]]; do
    i=$((i + 1))
    echo "$w $i $(renew_once "$2" "loop/$w.$i")" >>"loop/$w.log"
  done
}
load_start() {
  local w
  rm -rf loop
  mkdir loop
  for w in 1 2 3 4; do
    _load_loop "$w" "$1" &
    BG_PIDS+=("$!")
  done
}
load_stop() {
  local pid
  touch loop/stop
  for pid in "${BG_PIDS[@]}"; do wait "$pid" || true; done
  BG_PIDS=()
}
load_count() { cat loop/*.log 2>/dev/null | wc -l; }

p7_pem() {
  tr -d '\r' <"$1" | base64 -d | openssl pkcs7 -inform DER -print_certs -out "$2" 2>/dev/null ||
    fail "$1 is not a certs-only PKCS#7: $(head -c 200 "$1" | cat -v)"
}
p7_serial() {
  p7_pem "$1" "$1.pem"
  local s
  s=$(openssl x509 -in "$1.pem" -noout -serial) || fail "$1 holds no certificate"
  s=${s#serial=}
  echo "${s,,}"
}

metric() {
  local n
  n=$(curl -sS --max-time 15 --cacert "$ROOT" "$BASE/metrics" | awk -v m="$1" '$1 == m {print $2}') ||
    fail "cannot read $BASE/metrics"
  echo "${n:-0}"
}

db_serials() { "$HWCA_BIN" cert list -o json | jq -r '.[].serial'; }
audit_verified() {
  local out rc=0
  out=$("$HWCA_BIN" audit verify 2>&1) || rc=$?
  ((rc == 0)) || fail "hwca audit verify exited $rc: $out"
}
# all_recorded FILE: every serial of FILE (one a line: certificates handed out) is there
# once, in the database and audited as cert.issued.
all_recorded() {
  local dup missing
  dup=$(sort "$1" | uniq -d)
  [[ -z $dup ]] || fail "serials handed out twice: $dup"
  missing=$(comm -23 <(sort -u "$1") <(db_serials | sort -u))
  [[ -z $missing ]] || fail "handed out but not in the database: $missing"
  missing=$(comm -23 <(sort -u "$1") <(jq -r 'select(.event == "cert.issued") | .data.serial' \
    "$HWCA_HOME/audit.log" | sort -u))
  [[ -z $missing ]] || fail "handed out but not audited as cert.issued: $missing"
}
# consistent_after_outage FILE [LOG]: `hwca audit verify` passes. A certificate the database
# recorded but whose audit line could not be written (the disk filled, or the process was
# killed, between the two) is the one gap verify may name: then it must not be in FILE (it
# was withheld), LOG (the server's stderr; none after a kill) must say so, and once revoked
# (as the message advises) verify passes.
WITHHELD=0 # certificates consistent_after_outage found withheld and revoked
consistent_after_outage() {
  local out rc=0 s
  out=$("$HWCA_BIN" audit verify 2>&1) || rc=$?
  ((rc == 0)) && return 0
  local withheld
  withheld=$(grep -o "hwca revoke --ca root [0-9a-f]*'" <<<"$out" | awk '{print $5}' | tr -d "'" | sort -u)
  [[ -n $withheld ]] || fail "hwca audit verify exited $rc: $out"
  if [[ -n $2 ]]; then
    grep -qF "recorded in the database but not audited, so not handed out" "$2" ||
      fail "certificates without audit lines that the server did not report: $out"
  fi
  for s in $withheld; do
    ! grep -qx "$s" "$1" || fail "certificate $s was handed out without its audit line"
    WITHHELD=$((WITHHELD + 1))
    "$HWCA_BIN" --pin-source "file:$PIN_FILE" revoke --ca root "$s" >/dev/null 2>revoke.err ||
      fail "cannot revoke withheld certificate $s: $(cat revoke.err)"
  done
  audit_verified
}
