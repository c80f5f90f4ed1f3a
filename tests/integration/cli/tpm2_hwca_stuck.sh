#!/usr/bin/env bash
# A TPM that stops answering (swtpm under SIGSTOP: its socket accepts and then nothing comes
# back) does not hang hwca: every call to the TPM is watched, and after HWCA_TOKEN_TIMEOUT the
# command prints one line naming the call and the TPM and exits with code 5, writing and
# recording nothing. Once the TPM answers again, the same command works. (A command stuck
# later, in TPM2_Sign, is tpm_recovery_test.cpp's: a shell cannot stop swtpm mid-command.)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=swtpm_lib.sh
source "$here/swtpm_lib.sh"
need timeout
export HWCA_HOME=$WORK/home

swtpm_start stuck
export HWCA_TCTI=$SWTPM_TCTI
DIR=$(pwd -P)
hwca key generate --key tpm2:file=ca.tpmkey >/dev/null
hwca ca init --name tpmca --key "tpm2:file=$DIR/ca.tpmkey" --subject /CN=tpmca >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
  -subj /CN=leaf -addext subjectAltName=DNS:leaf.example -out leaf.csr 2>/dev/null
rows() { hwca cert list | tail -n +2 | wc -l; }
ROWS=$(rows)

kill -STOP "$SWTPM_PID"
start=$(date +%s%N)
# timeout 60: the old code waited for ever here.
expect_fail 5 "TPM 'swtpm:host=127.0.0.1,port=${SWTPM_TCTI##*port=}' did not answer Tss2_TctiLdr_Initialize" \
  env HWCA_TOKEN_TIMEOUT=2 timeout 60 "$HWCA_BIN" sign --ca tpmca --profile server \
  --csr leaf.csr --out leaf.pem
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[[ $LAST_ERR == *"within 2.0 s"* ]] || fail "the line does not give the timeout: $LAST_ERR"
# 2 s of timeout, the watchdog's tick, a loaded machine: well under the 60 s of `timeout`.
((elapsed_ms < 20000)) || fail "the stuck sign took ${elapsed_ms} ms to end"
((elapsed_ms >= 1900)) || fail "the stuck sign ended after ${elapsed_ms} ms, before the timeout"
[[ ! -e leaf.pem ]] || fail "a stuck sign wrote leaf.pem"
kill -CONT "$SWTPM_PID"
[[ $(rows) == "$ROWS" ]] || fail "a stuck sign recorded a certificate"

# `hwca key show` reads the key in the TPM: stuck the same way, named the same way.
kill -STOP "$SWTPM_PID"
expect_fail 5 "did not answer Tss2_TctiLdr_Initialize" \
  env HWCA_TOKEN_TIMEOUT=1 timeout 60 "$HWCA_BIN" key show --key tpm2:file=ca.tpmkey
kill -CONT "$SWTPM_PID"

# Answering again: the same sign goes through.
hwca sign --ca tpmca --profile server --csr leaf.csr --out leaf.pem >/dev/null
[[ -s leaf.pem ]] || fail "no certificate once the TPM answers again"
[[ $(rows) == $((ROWS + 1)) ]] || fail "the certificate was not recorded"
echo "ok: a stuck TPM ends the command with code 5 in ${elapsed_ms} ms"
