#!/usr/bin/env bash
# A full disk and a read-only home under `hwca sign` and `hwca serve`: the home is a small
# tmpfs mounted by the test in a private mount namespace (unshare -m: nothing leaks if the
# test dies; as root, permissions would not stop hwca, a full or read-only file system
# does). Every refusal is one line and exit 7 (serve: 503, reason `io`, counted); nothing is
# half-written: no --out file, no record without its audit line (`hwca audit verify` passes
# after every attempt, whatever byte the disk filled up at); once space is back, the same
# command (the same server, not restarted) issues again.
# Exit 77 (ctest: skipped) when this machine does not let the test mount, with the reason.
here=$(cd "$(dirname "$0")" && pwd)
if [[ -z ${HWCA_DISK_NS:-} ]]; then
  why=$(unshare -m --propagation private true 2>&1) || {
    echo "SKIP: cannot make a private mount namespace (unshare -m): $why" >&2
    exit 77
  }
  HWCA_DISK_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=est_lib.sh
source "$here/est_lib.sh"
need curl jq
trap 'est_serve_stop; est_serve_logs; umount "$WORK/out" "$HWCA_HOME" 2>/dev/null; _cleanup' EXIT

export HWCA_HOME=$WORK/home
mkdir -p "$HWCA_HOME" out
why=$(mount -t tmpfs -o size=2m,mode=0700 hwca-test-home "$HWCA_HOME" 2>&1) || {
  echo "SKIP: cannot mount a tmpfs in a private mount namespace: $why" >&2
  exit 77
}
why=$(mount -t tmpfs -o size=64k hwca-test-out "$WORK/out" 2>&1) || {
  echo "SKIP: cannot mount a second tmpfs: $why" >&2
  exit 77
}

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 --subject /CN=disk-root \
  >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout l.key -subj /CN=l \
  -addext "subjectAltName=DNS:l.example" -out l.csr 2>/dev/null

# fill_leaving KIB: the home's file system keeps KIB KiB free (the rest is $HWCA_HOME/.fill).
fill_leaving() {
  rm -f "$HWCA_HOME/.fill"
  local avail
  avail=$(df -k --output=avail "$HWCA_HOME" | tail -n 1)
  if ((avail > $1)); then
    dd if=/dev/zero of="$HWCA_HOME/.fill" bs=1k count=$((avail - $1)) 2>/dev/null || true
  fi
}
records() { "$HWCA_BIN" cert list -o json | jq length; }
audit_ok() {
  local out rc=0
  out=$("$HWCA_BIN" audit verify 2>&1) || rc=$?
  ((rc == 0)) || fail "$1: hwca audit verify exited $rc: $out"
}

# --- 1. hwca sign, the disk filling up at every point of the commit -----------------------
# From nothing left to enough, 4 KiB (a page) at a time, three signs at each step (each
# one issued moves the audit log's end within its page): the database's write and the audit
# log's each meet the full disk at some step.
issued=0 refused=0
for step in $(seq 0 35); do
  left=$((step / 3 * 4))
  ((step % 3)) || fill_leaving "$left"
  before=$(records)
  rc=0
  "$HWCA_BIN" --pin-source "file:$PIN_FILE" sign --ca root --profile server --csr l.csr \
    --out "$WORK/s$step.pem" >/dev/null 2>sign.err || rc=$?
  cat sign.err >>"$STDERR_LOG"
  if ((rc == 0)); then
    issued=$((issued + 1))
    [[ $(records) == $((before + 1)) ]] || fail "$left KiB left: issued, but the database has $(records) records"
  else
    refused=$((refused + 1))
    [[ $rc == 7 && $(wc -l <sign.err) == 1 && $(cat sign.err) == "hwca: "* ]] ||
      fail "$left KiB left: exit $rc: $(cat sign.err)"
    [[ ! -e $WORK/s$step.pem ]] || fail "$left KiB left: a refused sign wrote its --out file"
    [[ $(records) == "$before" ]] || fail "$left KiB left: refused ($(cat sign.err)), but recorded"
  fi
  audit_ok "$left KiB left ($(cat sign.err))"
done
((refused > 0 && issued > 0)) || fail "the disk never stopped or never allowed a sign: $issued issued, $refused refused"
rm -f "$HWCA_HOME/.fill"
hwca_pin sign --ca root --profile server --csr l.csr --out "$WORK/after.pem" >/dev/null
audit_ok "space back"

# The home has room, the --out folder is full: the certificate is issued and recorded, and
# the line says so and how to get it.
dd if=/dev/zero of="$WORK/out/.fill" bs=4k 2>/dev/null || true
expect_fail 7 "was issued and recorded, but cannot write $WORK/out/x.pem" \
  hwca_pin sign --ca root --profile server --csr l.csr --out "$WORK/out/x.pem"
[[ ! -e $WORK/out/x.pem ]] || fail "a half-written --out file"
audit_ok "--out on a full disk"

# A read-only home: refused before anything is signed; writable again, it issues.
mount -o remount,ro "$HWCA_HOME"
before=$(records)
expect_fail 7 "read-only" hwca_pin sign --ca root --profile server --csr l.csr --out "$WORK/ro.pem"
[[ ! -e $WORK/ro.pem ]] || fail "a sign on a read-only home wrote ro.pem"
mount -o remount,rw "$HWCA_HOME"
[[ $(records) == "$before" ]] || fail "a sign on a read-only home recorded something"
hwca_pin sign --ca root --profile server --csr l.csr --out "$WORK/rw.pem" >/dev/null
audit_ok "read-only, then writable"
echo "sign: $issued issued, $refused refused while the disk filled up"

# --- 2. hwca serve: an enrollment on a full home ------------------------------------------
# (Not a read-only one: Linux refuses to remount a file system read-only while the server
# holds the database open for writing.)
est_serve_start
BASE=https://127.0.0.1:$PORT ROOT=$HWCA_HOME/cas/root/cert.pem
cp "$ROOT" root.pem
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout n.key \
  -subj /O=system:nodes/CN=system:node:worker-1 -outform DER -out n.der 2>/dev/null
openssl base64 -in n.der -out n.b64
token=$(hwca bootstrap create --node worker-1 2>/dev/null)
enroll() {
  curl -sS --max-time 15 --cacert root.pem -u "worker-1:$token" -H "Content-Type: application/pkcs10" \
    --data-binary @n.b64 -o enroll.body -D enroll.hdr -w '%{http_code}' "$BASE/.well-known/est/simpleenroll"
}
# The refusals counted as outages of the disk: reason `io` (a file) or `database` (SQLite's
# own "disk is full" or read-only database, where the bootstrap token is claimed first).
io_refusals() {
  curl -sS --max-time 15 --cacert root.pem "$BASE/metrics" |
    awk '$1 ~ /^hwca_est_rejected_total\{reason="(io|database)"\}$/ {n += $2} END {print n + 0}'
}
how=full
before=$(records)
fill_leaving 0
io0=$(io_refusals)
code=$(enroll)
[[ $code == 503 ]] || fail "serve, $how home: status $code: $(cat enroll.body)"
grep -qi '^retry-after: 30' enroll.hdr || fail "serve, $how home: no Retry-After"
(($(io_refusals) > io0)) || fail "serve, $how home: the refusal was not counted as io or database: $(tail -n 1 "$SERVE_ERR")"
rm -f "$HWCA_HOME/.fill"
[[ $(records) == "$before" ]] || fail "serve, $how home: a refused enrollment was recorded"
audit_ok "serve, $how home"
# Space back: the same server (not restarted) enrolls with the same token.
code=$(enroll)
[[ $code == 200 ]] || fail "serve after the disk came back: status $code: $(cat enroll.body)"
kill -0 "$SERVE_PID" || fail "the server is gone"
est_serve_stop
audit_ok "serve stopped"
echo "ok: full and read-only homes under sign, a full one under serve: clear refusals, whole records, recovery"
