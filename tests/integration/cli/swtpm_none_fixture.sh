#!/usr/bin/env bash
# shellcheck disable=SC2016  # the inner scripts are single-quoted: they expand in there
# swtpm_lib.sh itself: every TPM test trusts that $SWTPM_TCTI reaches a TPM of its own and
# that its swtpms are gone after the script, whose exit status and lib.sh cleanup (the PIN
# check, the removal of $WORK) must survive the chained EXIT handlers.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need swtpm swtpm_setup tpm2_readpublic tpm2_nvreadpublic tpm2_getcap
LIB=$(cd "$(dirname "$0")" && pwd)

# inner RC-FILE BODY: run BODY in a fresh bash that sourced lib.sh, with OUT (a folder of
# this script's) to leave notes in; its exit status goes to RC-FILE.
OUT=$WORK/out
mkdir "$OUT"
inner() {
  local rc=0
  OUT=$OUT LIB=$LIB bash -c "source \"\$LIB/lib.sh\"; echo \"\$WORK\" >\"\$OUT/work\"; $2" \
    >"$OUT/inner.out" 2>"$OUT/inner.err" || rc=$?
  echo "$rc" >"$1"
}

gone() {  # gone PID...: none of them runs any more
  local pid
  for pid in "$@"; do
    ! kill -0 "$pid" 2>/dev/null || fail "process $pid still runs after its script ended"
  done
}

# Two TPMs in one script: distinct, each answering with its own EK and EK certificate; the
# script's failure status (3) is kept, and both swtpms and the inner $WORK are removed.
inner "$OUT/rc1" '
  source "$LIB/swtpm_lib.sh"
  swtpm_start a; A_TCTI=$SWTPM_TCTI; A_PID=$SWTPM_PID
  swtpm_start b
  [[ $A_TCTI != "$SWTPM_TCTI" ]] || fail "both on $A_TCTI"
  [[ $TPM2TOOLS_TCTI == "$SWTPM_TCTI" && $TPM2OPENSSL_TCTI == "$SWTPM_TCTI" ]] ||
    fail "tools not pointed at b"
  ek_a=$(TPM2TOOLS_TCTI=$A_TCTI tpm2_readpublic -c 0x81010001)
  ek_b=$(tpm2_readpublic -c 0x81010001)
  [[ $ek_a != "$ek_b" ]] || fail "a and b are one TPM"
  tpm2_nvreadpublic 0x01c00002 >/dev/null || fail "no EK certificate"
  echo "$A_PID $SWTPM_PID" >"$OUT/pids"
  exit 3'
[[ $(cat "$OUT/rc1") == 3 ]] ||
  fail "the script's status 3 became $(cat "$OUT/rc1"): $(cat "$OUT/inner.err")"
read -r -a pids <"$OUT/pids"
gone "${pids[@]}"
[[ ! -e $(cat "$OUT/work") ]] || fail "lib.sh's cleanup did not run: $(cat "$OUT/work") is left"

# lib.sh's PIN check still runs after the swtpm handler: a PIN on stderr fails a script
# that would otherwise succeed.
inner "$OUT/rc2" '
  source "$LIB/swtpm_lib.sh"
  swtpm_start
  echo "$SWTPM_PID" >"$OUT/pids"
  echo "$PIN" >>"$STDERR_LOG"
  exit 0'
[[ $(cat "$OUT/rc2") == 1 ]] || fail "a PIN on stderr went unnoticed (status $(cat "$OUT/rc2"))"
gone "$(cat "$OUT/pids")"

# Chained after k8s_lib.sh's handler: its processes and the swtpm are both stopped.
inner "$OUT/rc3" '
  source "$LIB/k8s_lib.sh"
  source "$LIB/swtpm_lib.sh"
  k8s_spawn "$WORK/sleep.log" sleep 300
  swtpm_start
  echo "${K8S_PIDS[0]} $SWTPM_PID" >"$OUT/pids"'
[[ $(cat "$OUT/rc3") == 0 ]] || fail "status $(cat "$OUT/rc3"): $(cat "$OUT/inner.err")"
read -r -a pids <"$OUT/pids"
gone "${pids[@]}"
[[ ! -e $(cat "$OUT/work") ]] || fail "k8s_lib.sh's chain did not reach lib.sh's cleanup"

# swtpm_stop closes the TPM: a client then fails at once instead of talking to another.
inner "$OUT/rc4" '
  source "$LIB/swtpm_lib.sh"
  swtpm_start
  swtpm_stop
  if timeout 20 tpm2_getcap handles-transient 2>/dev/null; then fail "a stopped swtpm answered"; fi'
[[ $(cat "$OUT/rc4") == 0 ]] || fail "status $(cat "$OUT/rc4"): $(cat "$OUT/inner.err")"
echo "ok"
