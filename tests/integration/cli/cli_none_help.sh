#!/usr/bin/env bash
# --help of the command and of each subcommand: exit 0 and mention every option and
# subcommand. Unknown subcommands and options, missing required options and bad option
# values exit 2.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# help_mentions "ARGS" WORD...: `hwca ARGS --help` exits 0 and prints every WORD.
help_mentions() {
  local args=$1 out word
  shift
  # shellcheck disable=SC2086
  out=$(hwca $args --help) || fail "hwca $args --help exited non-zero"
  for word in "$@"; do
    assert_contains "$out" "$word" "hwca $args --help"
  done
}

help_mentions "" "Usage: hwca" --help --version "--module PATH" "--pin-source SOURCE" \
  "--timeout SECONDS" env:NAME file:PATH HWCA_PIN_SOURCE HWCA_PKCS11_MODULE token key \
  "--tcti TCTI" HWCA_TCTI device:/dev/tpmrm0 "tpm2:file=" "tpm2:handle=" \
  "Exit codes: 0 ok, 1 internal, 2 usage, 3 not found, 4 PIN/auth, 5 device, 6 conflict, 7 file i/o"
help_mentions "token" "Usage: hwca token" --help list
help_mentions "token list" "Usage: hwca token list" --help
help_mentions "key" "Usage: hwca key" --help generate list show
help_mentions "key generate" "Usage: hwca key generate" --help "--key URI" REQUIRED \
  "--type TYPE" object=LABEL ec-p256 ec-p384 rsa-2048 rsa-3072 rsa-4096
help_mentions "key list" "Usage: hwca key list" --help "--token URI" REQUIRED
help_mentions "key show" "Usage: hwca key show" --help "--key URI" REQUIRED
help_mentions "" "--home DIR" HWCA_HOME ca
help_mentions "token init" "Usage: hwca token init" --help "--label LABEL" "--so-pin-source SOURCE"
help_mentions "ca" "Usage: hwca ca" --help init list show
help_mentions "ca init" "Usage: hwca ca init" --help "--name NAME" "--key URI" "--generate TYPE" \
  "--subject DN" "--san NAME" --days "--parent NAME" "--path-len N"
help_mentions "ca list" "Usage: hwca ca list" --help
help_mentions "ca show" "Usage: hwca ca show" --help --pem
help_mentions "audit verify" "Usage: hwca audit verify" --help
help_mentions "" k8s
help_mentions "k8s" "Usage: hwca k8s" --help certs renew kubeconfig check-expiration
help_mentions "k8s certs" "Usage: hwca k8s certs" "--config FILE" "--out DIR" "--node NAME" \
  "--threads N" REQUIRED
help_mentions "k8s renew" "Usage: hwca k8s renew" "--config FILE" "--out DIR" "--node NAME" NAME all
help_mentions "k8s kubeconfig" "Usage: hwca k8s kubeconfig" "--ca NAME" "--user NAME" "--group G" \
  "--server URL" "--cluster NAME" "--key-type TYPE" "--days N" "--out FILE" --force
help_mentions "k8s check-expiration" "Usage: hwca k8s check-expiration" "--dir DIR" "--node NAME" \
  "--output FORMAT" json
# Every command's help ends with the global options (they may follow the command) and the
# exit codes; so does hwca-node's.
for args in "sign" "k8s renew" "ca show" "token init"; do
  help_mentions "$args" "Global options (before or after the command):" "--pin-source SOURCE" \
    "--home DIR" "--module PATH" "--timeout SECONDS" "Exit codes: 0 ok"
done
for args in enroll renew kubelet-credential "ek show"; do
  # shellcheck disable=SC2086
  out=$("$HWCA_NODE_BIN" $args --help) || fail "hwca-node $args --help exited non-zero"
  assert_contains "$out" "Exit codes: 0 ok, 1 internal, 2 usage" "hwca-node $args --help"
done
[[ $(hwca --version) == "hwca "[0-9]* ]] || fail "hwca --version: $(hwca --version)"

# Usage errors exit 2 (the format of their message is checked in cli_none_usage_errors.sh).
usage_exit() {
  local rc=0
  hwca "$@" >/dev/null 2>usage.err || rc=$?
  [[ $rc == 2 ]] || fail "hwca $*: exit $rc, expected 2: $(cat usage.err)"
  [[ -s usage.err ]] || fail "hwca $*: exit 2 without a message"
}
usage_exit
usage_exit frob
usage_exit key
usage_exit key frob
usage_exit token frob
usage_exit key generate
usage_exit key generate --type ec-p256
usage_exit key show
usage_exit key list
usage_exit key show --key "$(key_uri k)" --frob
usage_exit --frob token list
usage_exit --pin-source bogus token list
usage_exit --pin-source env: token list
usage_exit --timeout 0 token list
usage_exit --timeout abc token list
usage_exit --module
echo "ok: help texts are complete; usage errors exit 2"
