# shellcheck shell=bash disable=SC2034  # SWTPM_* are the sourcing script's to use
# A software TPM 2.0 for the command-line tests; source it after lib.sh (and after
# k8s_lib.sh when a script uses both).
#   swtpm_start [NAME]  set up a swtpm of the script's own in $WORK/swtpm-NAME (default
#                       "tpm"; swtpm_setup with EK certificates, its configuration in that
#                       folder) and start it on a free port pair of 127.0.0.1; checks that
#                       both listeners are that process's and that the TPM answers. Sets
#                       SWTPM_TCTI ("swtpm:host=127.0.0.1,port=P"), SWTPM_PID and SWTPM_DIR,
#                       and exports TPM2TOOLS_TCTI and TPM2OPENSSL_TCTI to it, so tpm2-tools
#                       and tpm2-openssl never reach the machine's own TPM. HWCA_TCTI is the
#                       test's to set. SWTPM_EK_ROOT and SWTPM_EK_INTERMEDIATE: the
#                       swtpm-localca root and intermediate (PEM) its EK certificates (NV
#                       0x01c00002 RSA-2048, 0x01c00016 ECC P-384) chain to.
#   swtpm_serve DIR     serve again the state swtpm_start made in DIR (new ports; sets the
#                       same variables)
#   swtpm_stop [PID]    stop one (TERM, then KILL after 3 s); default $SWTPM_PID
#   pub_of_tpmkey FILE  SHA-256 of the public key of a TSS2 key file as tpm2-openssl reads it,
#                       loading it in the TPM of $TPM2OPENSSL_TCTI; no hwca code involved
# Every swtpm started here is stopped when the script exits; then the EXIT handler that was
# in place when this file was sourced (lib.sh's _cleanup, or k8s_lib.sh's handler) runs
# with the script's exit status.
# A swtpm serves one client at a time: while one holds a connection, the next one waits.
need swtpm swtpm_setup tpm2_getrandom

SWTPM_PIDS=()

# The EXIT handler set before this file was sourced: `trap -p EXIT` prints
# "trap -- 'HANDLER' EXIT", whose third word is the handler.
_swtpm_take_next() { _SWTPM_NEXT_EXIT=${3:-}; }
eval "_swtpm_take_next $(trap -p EXIT)"

_swtpm_kill() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 30); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  # Reaped quietly (bash would report a killed job on stderr); its status is no failure.
  { wait "$pid"; } 2>/dev/null || true
}

_swtpm_exit() {
  local rc=$? pid
  set +e  # under -e, `(exit $rc)` below would end the handler before the next one
  for pid in "${SWTPM_PIDS[@]}"; do _swtpm_kill "$pid"; done
  (exit "$rc")
  eval "$_SWTPM_NEXT_EXIT"
  exit "$rc"
}
trap _swtpm_exit EXIT

# _swtpm_holds PID PORT: PID holds the socket listening on 127.0.0.1:PORT. A busy port makes
# swtpm exit, and a client would then silently talk to whatever listens there.
_swtpm_holds() {
  local inode
  inode=$(awk -v a="$(printf '0100007F:%04X' "$2")" '$2 == a && $4 == "0A" { print $10; exit }' \
    /proc/net/tcp)
  [[ -n $inode ]] || return 1
  local links
  links=$(readlink /proc/"$1"/fd/* 2>/dev/null) || true
  [[ $links == *"socket:[$inode]"* ]]
}

_swtpm_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

swtpm_start() {
  local name=${1:-tpm} dir
  dir=$WORK/swtpm-$name
  mkdir -m 700 "$dir" || fail "cannot make $dir"
  mkdir "$dir/state" "$dir/config"
  {
    XDG_CONFIG_HOME=$dir/config TMPDIR=$dir swtpm_setup --tpm2 \
      --create-config-files overwrite,root &&
      XDG_CONFIG_HOME=$dir/config TMPDIR=$dir swtpm_setup --tpm2 --tpmstate "$dir/state" \
        --create-ek-cert --lock-nvram --config "$dir/config/swtpm_setup.conf"
  } >>"$dir/setup.log" 2>&1 || fail "swtpm_setup failed: $(tail -3 "$dir/setup.log")"
  swtpm_serve "$dir"
}

# swtpm_serve DIR: serve the TPM state of DIR (one swtpm_start set up) on a new free port
# pair, as swtpm_start does; for a TPM started again after it was stopped or killed (its old
# ports may linger in TIME-WAIT).
swtpm_serve() {
  local dir=$1 name port pid i
  name=${dir##*/swtpm-}
  for _ in $(seq 20); do
    # Below the kernel's ephemeral range (32768-60999), where outgoing connections and
    # their TIME-WAIT leftovers would collide with a listener.
    port=$((10000 + RANDOM % 22000))
    if ! _swtpm_port_free "$port" || ! _swtpm_port_free $((port + 1)); then continue; fi
    swtpm socket --tpm2 --tpmstate dir="$dir/state" \
      --server type=tcp,port="$port",bindaddr=127.0.0.1 \
      --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
      --flags not-need-init,startup-clear >>"$dir/swtpm.log" 2>&1 &
    pid=$!
    SWTPM_PIDS+=("$pid")
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break  # exited: a port was taken meanwhile
      if _swtpm_holds "$pid" "$port" && _swtpm_holds "$pid" $((port + 1)); then
        SWTPM_TCTI="swtpm:host=127.0.0.1,port=$port"
        SWTPM_PID=$pid
        SWTPM_DIR=$dir
        SWTPM_EK_ROOT=$dir/config/var/lib/swtpm-localca/swtpm-localca-rootca-cert.pem
        SWTPM_EK_INTERMEDIATE=$dir/config/var/lib/swtpm-localca/issuercert.pem
        export TPM2TOOLS_TCTI=$SWTPM_TCTI TPM2OPENSSL_TCTI=$SWTPM_TCTI
        timeout 20 tpm2_getrandom --hex 8 >/dev/null 2>&1 ||
          fail "swtpm $name on port $port does not answer"
        return 0
      fi
      sleep 0.1
    done
    _swtpm_kill "$pid"
  done
  fail "swtpm $name did not start: $(tail -3 "$dir/swtpm.log")"
}

swtpm_stop() { _swtpm_kill "${1:-$SWTPM_PID}"; }

pub_of_tpmkey() {
  local out
  out=$(openssl pkey -provider tpm2 -provider default -in "$1" -pubout 2>"$WORK/tpm2ossl.err") ||
    fail "tpm2-openssl cannot read $1: $(cat "$WORK/tpm2ossl.err")"
  pub_digest <<<"$out"
}
