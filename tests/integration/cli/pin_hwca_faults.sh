#!/usr/bin/env bash
# PIN faults: a wrong PIN (exit 4, tried once only: C_Login is counted with pkcs11-spy,
# and the token still works afterwards), a PIN file others can read, no PIN source and no
# terminal, pin-value= in a URI, an unset env: source, an empty file. hwca exits 4 with one
# line; openssl fails with hwca's text. No PIN ever appears on stderr (lib.sh checks this
# for every captured stderr at exit).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
PKCS11_SPY=$(find_lib pkcs11-spy.so)
[[ -n $PKCS11_SPY ]] || skip "opensc's pkcs11-spy.so is not installed"

# spy_logins LOG CMD...: run CMD with pkcs11-spy in front of SoftHSM (through
# HWCA_PKCS11_MODULE), its output in LOG.out and LOG.err, and print how many times C_Login
# was called.
spy_logins() {
  local log=$1
  shift
  rm -f "$log"
  (
    export PKCS11SPY=$SOFTHSM_MODULE PKCS11SPY_OUTPUT=$log HWCA_PKCS11_MODULE=$PKCS11_SPY
    "$@" >"$log.out" 2>"$log.err"
  ) || true
  cat "$log.err" >>"$STDERR_LOG"
  grep -c '^[0-9]*: C_Login$' "$log" || true
}

gen_key ec-p256 k
(umask 077 && printf '%s\n' "$WRONG_PIN" >wrong-pin)
key=$(key_uri k)

# A wrong PIN: exit 4, one line, and exactly one C_Login per process.
expect_fail 4 "rejected the PIN (CKR_PIN_INCORRECT); not retrying" \
  hwca --pin-source file:wrong-pin key list --token "pkcs11:token=$TOKEN"
msg=${LAST_ERR#hwca: }
n=$(spy_logins spy1.log "$HWCA_BIN" --pin-source file:wrong-pin key list --token "pkcs11:token=$TOKEN")
[[ $n == 1 ]] || fail "hwca key list with a wrong PIN called C_Login $n times"
grep -q 'CKR_PIN_INCORRECT' spy1.log || fail "the spied C_Login did not fail"
[[ $(wc -l <spy1.log.err) == 1 ]] || fail "hwca key list printed more than one error"
n=$(spy_logins spy2.log "$HWCA_BIN" --pin-source file:wrong-pin key show --key "$key")
[[ $n == 1 ]] || fail "hwca key show with a wrong PIN called C_Login $n times"
# openssl: the provider asks the passphrase callback once and logs in once.
expect_ossl_fail "$msg" ossl req -new -config "$OSSL_CNF" -key "$key" -passin file:wrong-pin \
  -subj /CN=x -out x.csr
n=$(spy_logins spy3.log openssl req "${PROVIDER_ARGS[@]}" -new -config "$OSSL_CNF" -key "$key" \
  -passin file:wrong-pin -subj /CN=x -out x.csr)
[[ $n == 1 ]] || fail "openssl req with a wrong PIN called C_Login $n times"
assert_contains "$(cat spy3.log.err)" "$msg" "openssl req with a wrong PIN"
# The token is not locked: the right PIN still works, through hwca and openssl.
n=$(spy_logins spy4.log "$HWCA_BIN" --pin-source "file:$PIN_FILE" key show --key "$key")
[[ $n == 1 ]] || fail "hwca key show with the right PIN called C_Login $n times"
assert_contains "$(cat spy4.log.out)" "never-extractable:  yes" "key show after a wrong PIN"
ossl req -new -config "$OSSL_CNF" -key "$key" -passin "file:$PIN_FILE" -subj /CN=x -out ok.csr
csr_verifies ok.csr

# A PIN file that group or others can read: exit 4, says how to fix it.
cp "$PIN_FILE" open-pin
chmod 644 open-pin
expect_fail 4 "is accessible by group or others (mode 0644); run: chmod 600 $WORK/open-pin" \
  hwca --pin-source "file:$WORK/open-pin" key show --key "$key"
expect_fail 4 "chmod 600" hwca key show --key "$key?pin-source=file:$WORK/open-pin"
expect_ossl_fail "run: chmod 600 $WORK/open-pin" ossl req -new -config "$OSSL_CNF" \
  -key "$key?pin-source=file:$WORK/open-pin" -subj /CN=x -out x.csr

# No PIN source and no terminal (a new session without a controlling tty, stdin closed).
expect_fail 4 "is needed and there is no terminal to ask on; give --pin-source env:NAME or file:PATH" \
  setsid -w "$HWCA_BIN" key show --key "$key" </dev/null
expect_ossl_fail "PIN for token '$TOKEN'" setsid -w openssl req "${PROVIDER_ARGS[@]}" -new \
  -config "$OSSL_CNF" -key "$key" -subj /CN=x -out x.csr </dev/null
# ... in the openssl command's terms: it has no --pin-source.
ossl_hint=$(grep -F ':hwca:' <<<"$LAST_ERR" || true)
assert_contains "$ossl_hint" "pin-source=env:NAME|file:PATH in the URI or in the provider's openssl.cnf section, -passin, or a terminal" \
  "openssl without a terminal"
[[ $ossl_hint != *--pin-source* ]] || fail "the provider tells an openssl user to use --pin-source: $ossl_hint"

# pin-value= in the URI: refused (exit 4) and the value is not echoed. ($ARGV_PIN stands
# for the PIN: the real one is never put in hwca's argv.)
expect_fail 4 "the key URI carries pin-value; hwca takes a PIN only from pin-source=" \
  hwca key show --key "$key?pin-value=$ARGV_PIN"
expect_fail 4 "carries pin-value" \
  hwca_pin key generate --key "pkcs11:token=$TOKEN;object=n?pin-value=$ARGV_PIN"
# openssl itself repeats the URI it could not load ("Could not read private key from ..."),
# so only the provider's own lines are checked (and kept out of the stderr log).
rc=0
openssl req "${PROVIDER_ARGS[@]}" -new -config "$OSSL_CNF" -key "$key?pin-value=$PIN" \
  -subj /CN=x -out x.csr 2>pv.err || rc=$?
[[ $rc != 0 ]] || fail "openssl accepted a URI with pin-value"
hwca_lines=$(grep -F ':hwca:' pv.err || true)
assert_contains "$hwca_lines" "the key URI carries pin-value" "openssl with pin-value"
[[ $hwca_lines != *"$PIN"* ]] || fail "the provider echoed the PIN: $hwca_lines"
grep -vF 'Could not read private key from' pv.err >>"$STDERR_LOG"

# Other PIN sources that give no PIN.
expect_fail 4 "PIN source env:HWCA_NO_SUCH_VAR names an unset variable" \
  hwca --pin-source env:HWCA_NO_SUCH_VAR key show --key "$key"
(umask 077 && : >empty-pin)
expect_fail 4 "PIN file $WORK/empty-pin is empty" hwca --pin-source "file:$WORK/empty-pin" \
  key show --key "$key"

# A PIN given where a PIN source belongs: a usage error (2) that does not repeat it.
rc=0
"$HWCA_BIN" --pin-source "$ARGV_PIN" key show --key "$key" >/dev/null 2>ps.err || rc=$?
cat ps.err >>"$STDERR_LOG"
[[ $rc == 2 ]] || fail "--pin-source PIN: exit $rc, expected 2: $(cat ps.err)"
assert_contains "$(cat ps.err)" "bad PIN source" "--pin-source PIN"

# token init takes the new user PIN from $HWCA_PIN_SOURCE like every other command, and
# says where a PIN may come from when none is given.
(umask 077 && printf '%s\n' "$SO_PIN" >so-pin && printf 'init-pin-6120\n' >init-pin)
expect_fail 2 "give the new user PIN with --pin-source env:NAME|file:PATH or \$HWCA_PIN_SOURCE" \
  env -u HWCA_PIN_SOURCE "$HWCA_BIN" token init --label fresh --so-pin-source file:so-pin
HWCA_PIN_SOURCE=file:init-pin hwca token init --label fresh --so-pin-source file:so-pin >/dev/null
hwca --pin-source file:init-pin key list --token "pkcs11:token=fresh" >/dev/null ||
  fail "the PIN token init read from \$HWCA_PIN_SOURCE does not log in to the new token"

# Nothing above printed a PIN (lib.sh repeats this check at exit for the whole script).
! grep -qF -e "$PIN" -e "$WRONG_PIN" -e "$ARGV_PIN" "$STDERR_LOG" || fail "a PIN appeared on stderr"
echo "ok: PIN faults exit 4 with one line; a wrong PIN is tried once; no PIN is echoed"
