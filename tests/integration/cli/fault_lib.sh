# shellcheck shell=bash
# The fault-injecting PKCS#11 module (tests/support/fault_pkcs11, its README) for the CLI
# tests; source it after lib.sh. Every hwca run after fault_use goes through it.
#   fault_use           point HWCA_PKCS11_MODULE at $HWCA_PROVIDER_DIR/hwca_fault_pkcs11.so
#                       (SoftHSM2 underneath) with the control file $FAULTS
#   fault_set RULE...   replace the control file's rules (one a line), by a rename
#   fault_clear         no faults
#   fault_at SECONDS    unix time SECONDS (fractions allowed) from now, for from= / until=
#   serials_distinct FILE   every line of FILE (a serial each) is there once
#   db_serials          the serials of `hwca cert list -o json` for every CA, one a line
#   audit_ok            `hwca audit verify` passes (the database and the chained log agree)
FAULTS=$WORK/faults
FAULT_MODULE=$HWCA_PROVIDER_DIR/hwca_fault_pkcs11.so
[[ -f $FAULT_MODULE ]] || fail "no hwca_fault_pkcs11.so in $HWCA_PROVIDER_DIR (build target hwca_fault_pkcs11)"

fault_use() {
  : >"$FAULTS"
  export HWCA_FAULT_PKCS11_MODULE=$SOFTHSM_MODULE HWCA_FAULT_PKCS11_CONTROL=$FAULTS
  export HWCA_PKCS11_MODULE=$FAULT_MODULE
}
fault_set() {
  printf '%s\n' "$@" >"$FAULTS.new"
  mv -f "$FAULTS.new" "$FAULTS"
}
fault_clear() { fault_set "# none"; }
fault_at() { awk -v d="$1" -v t="$(date +%s.%N)" 'BEGIN { printf "%.3f", t + d }'; }

serials_distinct() {
  local dup
  dup=$(sort "$1" | uniq -d)
  [[ -z $dup ]] || fail "serials used twice: $dup"
}
db_serials() { "$HWCA_BIN" cert list -o json | jq -r '.[].serial'; }
audit_ok() {
  local out rc=0
  out=$("$HWCA_BIN" audit verify 2>&1) || rc=$?
  ((rc == 0)) || fail "hwca audit verify exited $rc: $out"
}
