#!/usr/bin/env bash
# `hwca sign` and `hwca k8s certs` against a token that fails (tests/support/fault_pkcs11
# around SoftHSM2): each of C_OpenSession, C_Login, C_FindObjects, C_GetAttributeValue and
# C_Sign answering CKR_DEVICE_REMOVED, CKR_DEVICE_ERROR, CKR_SESSION_HANDLE_INVALID,
# CKR_USER_NOT_LOGGED_IN or CKR_GENERAL_ERROR, and calls that hang past the call timeout.
# Every failure is one line naming the token and the cause, exit 5; nothing is half-written
# (no --out file, no new k8s folder); the database holds exactly the certificates handed
# out, each with its cert.issued line, and `hwca audit verify` passes; serials are never
# used twice; once the fault ends, the same command issues.
# The whole grid (25 cases) is cheap here: each case is one short hwca process.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"
# shellcheck source=fault_lib.sh
source "$here/fault_lib.sh"
need jq

AUDIT=$HWCA_HOME/audit.log
fault_use
hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 --subject /CN=fault-root \
  >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout l.key -subj /CN=l \
  -addext "subjectAltName=DNS:l.example" -out l.csr 2>/dev/null
HANDED=$WORK/handed  # the serials of every certificate a command handed out
: >"$HANDED"

# issued FILE: FILE is a certificate the CA issued: its serial is recorded in the database
# and audited as cert.issued; it joins HANDED.
issued() {
  local s
  s=$(openssl x509 -in "$1" -noout -serial) || fail "$1 is not a certificate"
  s=${s#serial=}
  s=${s,,}
  db_serials | grep -qx "$s" || fail "$1 (serial $s) was handed out but is not in the database"
  grep -F "\"serial\":\"$s\"" "$AUDIT" | grep -qF '"event":"cert.issued"' ||
    fail "$1 (serial $s) has no cert.issued audit line"
  echo "$s" >>"$HANDED"
}

# refused_sign FUNCTION CKR: `hwca sign --out` with FUNCTION failing with CKR exits 5, one
# line naming the token and CKR; no file; no new record; a cert.rejected line giving the cause.
refused_sign() {
  local fn=$1 rv=$2 before
  before=$(db_serials | wc -l)
  fault_set "$fn $rv"
  expect_fail 5 "$rv" hwca_pin sign --ca root --profile server --csr l.csr --out out.pem
  [[ $LAST_ERR == *"token 'ca'"* || $LAST_ERR == *"token=ca;"* ]] ||
    fail "$fn $rv: the error does not name the token: $LAST_ERR"
  [[ ! -e out.pem ]] || fail "$fn $rv: a failed sign wrote out.pem"
  [[ $(db_serials | wc -l) == "$before" ]] || fail "$fn $rv: a failed sign added a record"
  tail -n 1 "$AUDIT" | grep -F '"event":"cert.rejected"' | grep -qF "$rv" ||
    fail "$fn $rv: no cert.rejected line with the cause: $(tail -n 1 "$AUDIT")"
}

# --- 1. hwca sign, every function x error -------------------------------------------------
# C_OpenSession: the token is gone before anything starts. C_Login: the login fails for a
# reason other than the PIN (never "wrong PIN", exit 4). C_FindObjects and
# C_GetAttributeValue: the key lookup fails after the login; CKR_USER_NOT_LOGGED_IN there
# is a token that lost its login, a device fault (it was exit 4, "authentication").
# C_Sign: the signature path, where CKR_DEVICE_* reconnect, CKR_SESSION_HANDLE_INVALID and
# CKR_USER_NOT_LOGGED_IN log in again and reconnect, CKR_GENERAL_ERROR fails at once.
for fn in C_OpenSession C_Login C_FindObjects C_GetAttributeValue C_Sign; do
  for rv in CKR_DEVICE_REMOVED CKR_DEVICE_ERROR CKR_SESSION_HANDLE_INVALID \
    CKR_USER_NOT_LOGGED_IN CKR_GENERAL_ERROR; do
    refused_sign "$fn" "$rv"
  done
done
fault_clear
hwca_pin sign --ca root --profile server --csr l.csr --out out.pem >/dev/null
issued out.pem
audit_ok

# --- 2. a batch of signs through a fault that lasts one second ----------------------------
# Every sign either hands out a recorded certificate or fails with exit 5 and no file.
fault_set "C_Sign CKR_DEVICE_ERROR from=$(fault_at 0.3) until=$(fault_at 1.3)"
ok=0 refused=0
for i in $(seq 30); do
  rc=0
  "$HWCA_BIN" --pin-source "file:$PIN_FILE" sign --ca root --profile server --csr l.csr \
    --out "b$i.pem" >/dev/null 2>"b$i.err" || rc=$?
  cat "b$i.err" >>"$STDERR_LOG"
  if ((rc == 0)); then
    issued "b$i.pem"
    ok=$((ok + 1))
  else
    [[ $rc == 5 && $(wc -l <"b$i.err") == 1 ]] || fail "batch sign $i: exit $rc: $(cat "b$i.err")"
    [[ ! -e b$i.pem ]] || fail "batch sign $i failed but wrote b$i.pem"
    refused=$((refused + 1))
  fi
  ((i < 30)) && sleep 0.05
done
((refused > 0 && ok > 0)) || fail "the batch met no fault or never issued: $ok issued, $refused refused"
audit_ok

# --- 3. calls that hang past the call timeout ----------------------------------------------
# The watchdog ends the process: exit 5, one line naming the call and the token.
for fn in C_Sign C_FindObjects; do
  before=$(db_serials | wc -l)
  fault_set "$fn delay=3000"
  expect_fail 5 "token 'ca' (serial " env HWCA_TOKEN_TIMEOUT=1 "$HWCA_BIN" \
    --pin-source "file:$PIN_FILE" sign --ca root --profile server --csr l.csr --out hang.pem
  assert_contains "$LAST_ERR" "did not answer $fn within 1.0 s" "hanging $fn"
  [[ ! -e hang.pem ]] || fail "a sign the watchdog ended wrote hang.pem"
  [[ $(db_serials | wc -l) == "$before" ]] || fail "a sign the watchdog ended left a record"
done
fault_clear
audit_ok

# --- 4. hwca k8s certs ---------------------------------------------------------------------
k8s_make_cas ec-p256
k8s_cluster_yaml cluster.yaml cp1:control-plane:10.0.0.1 w1:worker:10.0.0.2
# k8s_refused TEXT RULE...: `k8s certs` under RULEs exits 5 with TEXT; no tree is left.
k8s_refused() {
  local text=$1
  shift
  fault_set "$@"
  expect_fail 5 "$text" hwca_pin k8s certs --config cluster.yaml --out tree
  [[ ! -e tree ]] || fail "k8s certs under '$*' left a tree: $(find tree | head)"
}
k8s_refused CKR_DEVICE_REMOVED "C_Sign CKR_DEVICE_REMOVED"
k8s_refused CKR_GENERAL_ERROR "C_Login CKR_GENERAL_ERROR"
k8s_refused CKR_USER_NOT_LOGGED_IN "C_FindObjects CKR_USER_NOT_LOGGED_IN"
# The token fails after six signatures: the line says how many certificates were issued
# and recorded; those are in the database and the audit log.
before=$(db_serials | wc -l)
k8s_refused "were issued and recorded" "C_Sign CKR_DEVICE_ERROR after=6"
n=$(sed -n 's/^hwca: \([0-9][0-9]*\) of [0-9]* certificates were issued and recorded.*/\1/p' <<<"$LAST_ERR")
[[ -n $n && $n -gt 0 ]] || fail "k8s certs did not say how many it issued: $LAST_ERR"
[[ $(db_serials | wc -l) == $((before + n)) ]] ||
  fail "k8s certs said $n were issued; the database grew by $(($(db_serials | wc -l) - before)): $LAST_ERR"
# A call that hangs mid-run: the watchdog ends it, exit 5, no tree.
export HWCA_TOKEN_TIMEOUT=1
k8s_refused "did not answer C_Sign within 1.0 s" "C_Sign delay=3000 after=6"
unset HWCA_TOKEN_TIMEOUT
audit_ok

# Once the token answers again the same run writes the tree; every certificate in it is
# recorded and audited.
fault_clear
hwca_pin k8s certs --config cluster.yaml --out tree >/dev/null
while IFS= read -r f; do
  issued "$f"
done < <(find tree -name '*.crt' ! -name 'ca.crt' ! -name 'front-proxy-ca.crt')
serials_distinct "$HANDED"
audit_ok
echo "ok: sign and k8s certs through token faults: exit 5, one line, nothing half-written, records whole"
