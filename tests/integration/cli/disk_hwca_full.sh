#!/usr/bin/env bash
# A full disk and a read-only home under `hwca sign` and `hwca serve`: the home on a 4 MiB
# tmpfs of the script's own (a private mount namespace; exit 77, a ctest skip, where
# mounting is not permitted), filled with a file or remounted read-only while the commands
# run, then given back.
#  1. hwca sign: one "hwca: " line naming the database and the cause, exit 7, no --out file,
#     nothing recorded, `hwca audit verify` passes; once space is back the same command
#     issues. An --out on a full disk: the certificate is recorded and audited (it was
#     issued), the error names the file, and no part of it is written.
#  2. hwca serve, four clients renewing in a loop: while the disk is full every refusal is
#     503 with Retry-After, counted in the metrics as `database` (SQLite could not write) or
#     `io` (the audit log); once space is back the same server issues again (no restart);
#     every certificate a client received is in the database and audited, no serial is used
#     twice, `hwca audit verify` passes. A server started on a read-only home exits 7 in one
#     line (a home cannot turn read-only under a running server: see below).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=resource_lib.sh
source "$here/resource_lib.sh"
resource_private_mounts "$@"
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=est_lib.sh
source "$here/est_lib.sh"
need curl jq df dd
_disk_exit() {
  local rc=$? pid
  set +e
  for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  est_serve_stop
  for pid in "${BG_PIDS[@]}"; do { wait "$pid"; } 2>/dev/null; done
  est_serve_logs
  umount_all
  (exit "$rc")
  _cleanup
}
trap _disk_exit EXIT

FS=$WORK/fs
small_fs "$FS" 4m
export HWCA_HOME=$FS/home

ROOT=$HWCA_HOME/cas/root/cert.pem
hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 --subject /CN=disk-root \
  >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout l.key -subj /CN=l \
  -addext "subjectAltName=DNS:l.example" -out l.csr 2>/dev/null
HANDED=$WORK/handed # the serials of every certificate a command or the server handed out
: >"$HANDED"

handed() { echo "$1" >>"$HANDED"; }  # SERIAL was handed out (checked by all_recorded)
sign_ok() {
  hwca_pin sign --ca root --profile server --csr l.csr --out "$1" >/dev/null
  handed "$(serial_of "$1")"
}
# sign_refused TEXT: `hwca sign --out refused.pem` exits 7 with TEXT, writes no file and
# records nothing.
sign_refused() {
  local before
  before=$(db_serials | wc -l)
  expect_fail 7 "$1" hwca_pin sign --ca root --profile server --csr l.csr --out refused.pem
  [[ ! -e refused.pem ]] || fail "a refused sign wrote refused.pem"
  [[ $(db_serials | wc -l) == "$before" ]] || fail "a refused sign left a record"
}

# --- 1. hwca sign --------------------------------------------------------------------------
sign_ok first.pem
fill_fs "$FS"
sign_refused "issuance database $HWCA_HOME/issuance.db: the disk is full"
audit_verified
unfill_fs "$FS"
sign_ok after-full.pem
readonly_fs "$FS"
sign_refused "issuance database $HWCA_HOME/issuance.db is read-only"
writable_fs "$FS"
audit_verified
sign_ok after-ro.pem

# --out on a full disk (the home elsewhere): issued, recorded and audited, but not written;
# the line says so; no part of the file is left.
OUTFS=$WORK/outfs
small_fs "$OUTFS" 256k
fill_fs "$OUTFS"
before=$(db_serials | wc -l)
expect_fail 7 "$OUTFS/leaf.pem" hwca_pin sign --ca root --profile server --csr l.csr \
  --out "$OUTFS/leaf.pem"
[[ -z $(find "$OUTFS" -mindepth 1 ! -name '.filler*') ]] ||
  fail "a sign that could not write its --out left $(find "$OUTFS" -mindepth 1 ! -name '.filler*')"
[[ $(db_serials | wc -l) == $((before + 1)) ]] || fail "the certificate of a failed --out is not recorded"
audit_verified
unfill_fs "$FS"

# --- 2. hwca serve under load ----------------------------------------------------------------
est_serve_start --workers 4
BASE=https://127.0.0.1:$PORT
enroll_client c1
handed "$(serial_of c1.pem)"

# phase NAME BREAK MEND: four clients renew; after a second BREAK runs, two seconds later
# MEND; the clients go on for two more seconds. Sets OK and REFUSED (503s), and checks every
# reply: 200 with one certificate (recorded, audited, its serial new) or 503 with Retry-After.
phase() {
  local name=$1 w i rc code s
  load_start c1
  sleep 1
  $2
  sleep 2
  $3
  sleep 2
  load_stop
  OK=0 REFUSED=0 AFTER=0
  local -A seen=() # the workers that met a 503: their later 200s came after the outage
  while read -r w i rc code; do
    [[ $rc == 0 ]] || fail "$name: renewal $w.$i: curl exit $rc: $(cat "loop/$w.$i.err")"
    case $code in
      200)
        s=$(p7_serial "loop/$w.$i.body")
        handed "$s"
        OK=$((OK + 1))
        [[ -z ${seen[$w]:-} ]] || AFTER=$((AFTER + 1))
        ;;
      503)
        grep -qi '^retry-after: 30' "loop/$w.$i.hdr" || fail "$name: a 503 without Retry-After"
        assert_contains "$(cat "loop/$w.$i.body")" "retry later" "$name: the 503's body"
        REFUSED=$((REFUSED + 1))
        seen[$w]=1
        ;;
      *) fail "$name: renewal $w.$i: HTTP $code: $(cat "loop/$w.$i.body")" ;;
    esac
  done < <(cat loop/*.log)
  ((REFUSED > 0)) || fail "$name: no request was refused while the disk could not be written"
  ((AFTER > 0)) || fail "$name: the server issued nothing once the disk was back"
}

fill() { fill_fs "$FS"; }
unfill() { unfill_fs "$FS"; }
outages_before=$(($(metric 'hwca_est_rejected_total{reason="database"}') + $(metric 'hwca_est_rejected_total{reason="io"}')))
phase "full disk" fill unfill
outages=$(($(metric 'hwca_est_rejected_total{reason="database"}') + $(metric 'hwca_est_rejected_total{reason="io"}')))
((outages - outages_before == REFUSED)) ||
  fail "the metrics count $((outages - outages_before)) refusals by database or io, the clients saw $REFUSED"
grep -qE "the disk is full|No space left on device" "$SERVE_ERR" ||
  fail "the server's stderr does not name the full disk: $(tail -n 3 "$SERVE_ERR")"
est_serve_stop
all_recorded "$HANDED"
consistent_after_outage "$HANDED" "$SERVE_ERR"

# A home made read-only under a running server cannot happen: the kernel refuses to remount
# a file system read-only while a process holds a file of it open for writing (the server's
# database). A server started on a read-only home refuses to start, in one line.
readonly_fs "$FS"
expect_fail 7 "issuance database $HWCA_HOME/issuance.db is read-only" \
  timeout 10 "$HWCA_BIN" --pin-source "file:$PIN_FILE" serve --ca root --listen 127.0.0.1:0
writable_fs "$FS"
all_recorded "$HANDED"
audit_verified
echo "ok: a full or read-only home: sign exits 7 with nothing written; serve answered $REFUSED" \
  "requests 503 while the disk was full and issued $AFTER after, without a restart; records whole"
