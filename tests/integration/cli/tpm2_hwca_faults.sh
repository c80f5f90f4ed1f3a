#!/usr/bin/env bash
# What goes wrong with TPM keys, and that hwca says so in one line with the documented exit
# code and leaves nothing behind (no key file, no certificate, no database row, the output
# tree as it was):
#   a TPM that cannot be reached (5, naming the TCTI), a malformed or unknown TCTI (2, 3);
#   a password key without a password (4, telling how to give one; no try spent);
#   corrupt key files (2, naming the file), a missing one (3), rsa-4096 (2);
#   a key file that is not a signing key: decrypt-only or restricted (2);
#   a key file of another TPM (2, TPM_RC_INTEGRITY);
#   a swtpm stopped between two commands (5), and killed while `hwca k8s certs` of a large
#   cluster signs (5, tree and database unchanged);
#   a wrong password (4, "rejected the password", the tries left): one failure counted in
#   the TPM even for commands that sign many times (hwca never retries), then the
#   dictionary-attack lockout (4), refused even with the right password until cleared;
#   a TPM whose object slots other programs filled (5, "no room", TPM_RC_OBJECT_MEMORY,
#   and what to do).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"
# shellcheck source=swtpm_lib.sh
source "$here/swtpm_lib.sh"
need tpm2_getcap tpm2_createprimary tpm2_create tpm2_encodeobject tpm2_flushcontext \
  tpm2_dictionarylockout setsid

swtpm_start a
A_TCTI=$SWTPM_TCTI A_PID=$SWTPM_PID A_DIR=$SWTPM_DIR
export HWCA_TCTI=$A_TCTI
DIR=$(pwd -P)
(umask 077 && echo "$WRONG_PIN" >wrong.pin)

rows() { hwca cert list | tail -n +2 | wc -l; }
no_transient() {
  local objs
  objs=$(tpm2_getcap handles-transient)
  [[ -z $objs ]] || fail "$1: objects are left loaded in the TPM: $objs"
}
da_failures() { tpm2_getcap properties-variable | sed -n 's/^TPM2_PT_LOCKOUT_COUNTER: //p'; }

# A CA with a key without password, a CA whose key has one (the password is $PIN; the home
# records no pin-source for it, so it comes from --pin-source), and a request.
hwca key generate --key tpm2:file=plain.tpmkey >/dev/null
hwca ca init --name plain --key "tpm2:file=$DIR/plain.tpmkey" --subject /CN=plain >/dev/null
hwca_pin key generate --key tpm2:file=pw.tpmkey >/dev/null
hwca_pin ca init --name locked --key "tpm2:file=$DIR/pw.tpmkey" --subject /CN=locked >/dev/null
grep -qxF "    key: tpm2:file=$DIR/pw.tpmkey" "$HWCA_HOME/config.yaml" || fail "config.yaml: locked's key"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
  -subj /CN=leaf -addext subjectAltName=DNS:leaf.example -out leaf.csr 2>/dev/null
ROWS=$(rows)
[[ $ROWS == 2 ]] || fail "the home holds $ROWS certificates, not the 2 CAs"
# refused_sign CODE TEXT CA [hwca options before 'sign'...]: `hwca sign` fails with CODE and
# TEXT, writes no certificate and records none.
refused_sign() {
  local code=$1 text=$2 ca=$3
  shift 3
  expect_fail "$code" "$text" hwca "$@" sign --ca "$ca" --profile server --csr leaf.csr --out leaf.pem
  [[ ! -e leaf.pem ]] || fail "a refused sign wrote leaf.pem"
  [[ $(rows) == "$ROWS" ]] || fail "a refused sign recorded a certificate"
}

# --- The TPM cannot be reached, or the TCTI is wrong.
closed=$(free_port)
expect_fail 5 "cannot reach the TPM through TCTI 'swtpm:host=127.0.0.1,port=$closed' (from HWCA_TCTI)" \
  env HWCA_TCTI="swtpm:host=127.0.0.1,port=$closed" "$HWCA_BIN" key generate --key tpm2:file=u.tpmkey
[[ ! -e u.tpmkey ]] || fail "an unreachable TPM left a key file"
refused_sign 5 "cannot reach the TPM through TCTI 'swtpm:host=127.0.0.1,port=$closed' (from --tcti)" \
  plain --tcti "swtpm:host=127.0.0.1,port=$closed"
expect_fail 2 "malformed TCTI 'swtpm:port=abc' (from --tcti)" \
  hwca --tcti swtpm:port=abc key show --key tpm2:file=plain.tpmkey
# An empty --tcti is a mistake, not a quiet fall back to HWCA_TCTI or the default.
expect_fail 2 "--tcti: must name a TCTI" hwca --tcti '' key show --key tpm2:file=plain.tpmkey
expect_fail 2 "malformed TCTI 'swtpm:host=127.0.0.1,port=99999' (from HWCA_TCTI)" \
  env HWCA_TCTI=swtpm:host=127.0.0.1,port=99999 "$HWCA_BIN" key generate --key tpm2:file=u.tpmkey
[[ ! -e u.tpmkey ]] || fail "a malformed TCTI left a key file"
refused_sign 3 "unknown TCTI 'nosuch:' (from --tcti)" plain --tcti nosuch:

# --- A password key without a password: no pin-source and no terminal (setsid). A token
# PIN source ($HWCA_PIN_SOURCE) is not a TPM password. No try is spent.
export HWCA_PIN_SOURCE=file:$PIN_FILE
refused_sign 4 "password for TPM key $DIR/pw.tpmkey is needed and none was given: use --pin-source" \
  locked
expect_fail 4 "password for TPM key $DIR/pw.tpmkey is needed and none was given" \
  setsid -w "$HWCA_BIN" sign --ca locked --profile server --csr leaf.csr --out leaf.pem
unset HWCA_PIN_SOURCE
[[ $(da_failures) == 0x0 ]] || fail "a missing password cost a try: $(da_failures)"

# --- Key files that are not TPM keys: exit 2, naming the file; a missing one: exit 3.
head -c 200 plain.tpmkey >truncated.tpmkey
head -c 300 /dev/urandom >garbage.tpmkey
sed 's/TSS2 PRIVATE KEY/EC PRIVATE KEY/' plain.tpmkey >label.tpmkey
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out host.tpmkey
: >empty.tpmkey
for bad in "truncated:bad PEM" garbage:"neither PEM nor DER" "label:PEM label 'EC PRIVATE KEY'" \
  "host:PEM label 'PRIVATE KEY'" "empty:neither PEM nor DER"; do
  f=${bad%%:*}.tpmkey why=${bad#*:}
  expect_fail 2 "$DIR/$f: not a TSS2 PRIVATE KEY file ($why" hwca key show --key "tpm2:file=$DIR/$f"
done
# A CA whose key file was damaged after it was made.
cp plain.tpmkey ca2.tpmkey
hwca ca init --name ca2 --key "tpm2:file=$DIR/ca2.tpmkey" --subject /CN=ca2 >/dev/null
ROWS=$(rows)
head -c 200 plain.tpmkey >ca2.tpmkey
refused_sign 2 "$DIR/ca2.tpmkey: not a TSS2 PRIVATE KEY file" ca2
expect_fail 3 "cannot read $DIR/nope.tpmkey: No such file or directory" \
  hwca key show --key "tpm2:file=$DIR/nope.tpmkey"
rm ca2.tpmkey
refused_sign 3 "cannot read $DIR/ca2.tpmkey: No such file or directory" ca2
expect_fail 2 "cannot make rsa-4096 keys" hwca key generate --key tpm2:file=big.tpmkey --type rsa-4096
[[ ! -e big.tpmkey ]] || fail "rsa-4096 left a key file"

# --- TPM keys that cannot sign certificates: decrypt-only, and restricted (an attestation
# key), made with tpm2-tools under the standard SRK and written as TSS2 key files.
tpm2_createprimary -C o -g sha256 -G ecc256:aes128cfb \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' -c srk.ctx >/dev/null
tpm2_flushcontext -t
tpm2_create -C srk.ctx -G rsa2048 -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt' \
  -u dec.pub -r dec.priv >/dev/null
tpm2_flushcontext -t
tpm2_encodeobject -C srk.ctx -u dec.pub -r dec.priv -o dec.tpmkey
tpm2_flushcontext -t
tpm2_create -C srk.ctx -G ecc256:ecdsa-sha256:null \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign' -u ak.pub -r ak.priv >/dev/null
tpm2_flushcontext -t
tpm2_encodeobject -C srk.ctx -u ak.pub -r ak.priv -o ak.tpmkey
tpm2_flushcontext -t
cas=$(hwca ca list)
expect_fail 2 "TPM key $DIR/dec.tpmkey is not a signing key (its sign attribute is clear)" \
  hwca key show --key "tpm2:file=$DIR/dec.tpmkey"
expect_fail 2 "is not a signing key" hwca ca init --name dec --key "tpm2:file=$DIR/dec.tpmkey" --subject /CN=dec
expect_fail 2 "TPM key $DIR/ak.tpmkey is a restricted key (an attestation key): it signs only what the TPM made" \
  hwca key show --key "tpm2:file=$DIR/ak.tpmkey"
expect_fail 2 "is a restricted key" hwca ca init --name ak --key "tpm2:file=$DIR/ak.tpmkey" --subject /CN=ak
[[ $(hwca ca list) == "$cas" ]] || fail "a refused ca init added a CA: $(hwca ca list)"
no_transient "after the refused key files"

# --- A key file of another TPM, then that TPM stopped between two commands.
swtpm_start b
B_TCTI=$SWTPM_TCTI B_PID=$SWTPM_PID
export TPM2TOOLS_TCTI=$A_TCTI TPM2OPENSSL_TCTI=$A_TCTI  # swtpm_start pointed them at b
hwca --tcti "$B_TCTI" key generate --key tpm2:file=foreign.tpmkey >/dev/null
expect_fail 2 "TPM key $DIR/foreign.tpmkey does not belong to TPM '$A_TCTI'" \
  hwca key show --key "tpm2:file=$DIR/foreign.tpmkey"
assert_contains "$LAST_ERR" "(TPM_RC_INTEGRITY)" "foreign key"
expect_fail 2 "does not belong to TPM '$A_TCTI'" \
  hwca ca init --name foreign --key "tpm2:file=$DIR/foreign.tpmkey" --subject /CN=foreign
[[ $(hwca ca list) == "$cas" ]] || fail "a foreign key became a CA"
out=$(hwca --tcti "$B_TCTI" key show --key tpm2:file=foreign.tpmkey)
assert_contains "$out" "sign:                 yes" "the foreign key in its own TPM"
swtpm_stop "$B_PID"
expect_fail 5 "cannot reach the TPM through TCTI '$B_TCTI' (from --tcti)" \
  hwca --tcti "$B_TCTI" key show --key tpm2:file=foreign.tpmkey
expect_fail 5 "TCTI '$B_TCTI'" hwca --tcti "$B_TCTI" key generate --key tpm2:file=b2.tpmkey
[[ ! -e b2.tpmkey ]] || fail "a stopped TPM left a key file"

# --- The swtpm killed while `hwca k8s certs` signs for a large cluster: exit 5, and the
# output tree, the database and the TPM's keys as they were. The CAs' keys have passwords
# (used again below).
tpm_key_file() { echo "tpm2:file=$DIR/$1.tpmkey"; }
k8s_make_cas ec-p256 tpm_key_file hwca_pin
k8s_cluster_yaml small.yaml cp1:control-plane:10.0.0.11 cp2:control-plane:10.0.0.12 w1:worker:10.0.1.1
nodes=(cp1:control-plane:10.0.0.11 cp2:control-plane:10.0.0.12)
for i in $(seq 1 1000); do nodes+=("w$i:worker:10.0.$((i / 250 + 1)).$((i % 250 + 1))"); done
k8s_cluster_yaml big.yaml "${nodes[@]}"
hwca_pin k8s certs --config small.yaml --out pki >/dev/null
tree_state() { (cd pki && find . -type f | sort | xargs sha256sum); }
before=$(tree_state)
ROWS=$(rows)
# The swtpm's read calls show when signing is under way: a few dozen for loading the keys,
# two per signature after that.
reads() { awk '/^syscr:/ { print $2 }' "/proc/$A_PID/io"; }
start=$(reads)
"$HWCA_BIN" --pin-source "file:$PIN_FILE" k8s certs --config big.yaml --out pki >kill.out 2>kill.err &
pid=$!
killed=0
while kill -0 "$pid" 2>/dev/null; do
  if (($(reads) - start > 300)); then
    kill -9 "$A_PID"
    { wait "$A_PID"; } 2>/dev/null || true  # reaped quietly (bash would report the kill)
    killed=1
    break
  fi
  sleep 0.01
done
rc=0
wait "$pid" || rc=$?
cat kill.err >>"$STDERR_LOG"
((killed)) || fail "k8s certs ended (exit $rc) before the swtpm was killed: $(cat kill.err)"
[[ $rc == 5 ]] || fail "k8s certs with the TPM killed under it: exit $rc: $(cat kill.err)"
[[ $(wc -l <kill.err) == 1 && $(cat kill.err) == "hwca: "* ]] || fail "k8s certs: stderr: $(cat kill.err)"
assert_contains "$(cat kill.err)" "TPM '$A_TCTI'" "k8s certs with the TPM killed"
[[ $(tree_state) == "$before" ]] || fail "the killed run changed the output tree"
[[ ! -e pki/.hwca-staging && ! -e pki/w2 ]] || fail "the killed run left files: $(ls -A pki)"
[[ $(rows) == "$ROWS" ]] || fail "the killed run recorded certificates"

# The same TPM state served again (a new port: the old one may linger in TIME-WAIT); the key
# files made before still load.
swtpm_serve "$A_DIR"
A_TCTI=$SWTPM_TCTI A_PID=$SWTPM_PID
export HWCA_TCTI=$A_TCTI
hwca key show --key "tpm2:file=$DIR/k8s-ca.tpmkey" >/dev/null
no_transient "after the restart"
# A TPM that was not shut down in order after a password was used counts one failure at its
# next startup (TPM 2.0 part 1, dictionary attack protection): cleared here, so that the
# counts below are hwca's alone.
tpm2_dictionarylockout --clear-lockout
echo "ok so far: unreachable TPM, TCTIs, missing password, bad key files, foreign key, stopped and killed TPM" >&2

# --- A wrong password: one failure counted, however many signatures the command would make;
# the message says how many tries remain; then the lockout.
[[ $(da_failures) == 0x0 ]] || fail "the TPM counts failures before the test: $(da_failures)"
ROWS=$(rows)
refused_sign 4 "the TPM rejected the password (TPM_RC_AUTH_FAIL); not trying again; 2 more wrong password(s) lock the TPM out" \
  locked --pin-source file:wrong.pin
assert_contains "$LAST_ERR" "$DIR/pw.tpmkey" "wrong password"
[[ $(da_failures) == 0x1 ]] || fail "one wrong password counted $(da_failures) failures"
# k8s certs would sign dozens of certificates with three password keys: still one failure.
rm -rf pki-wrong
expect_fail 4 "rejected the password" \
  hwca --pin-source file:wrong.pin k8s certs --config small.yaml --out pki-wrong
assert_contains "$LAST_ERR" "1 more wrong password(s) lock the TPM out" "k8s certs with a wrong password"
[[ $(da_failures) == 0x2 ]] || fail "k8s certs with a wrong password: $(da_failures) failures counted, not 2"
[[ -z $(ls pki-wrong 2>/dev/null) ]] || fail "k8s certs with a wrong password wrote $(ls pki-wrong)"
[[ $(rows) == "$ROWS" ]] || fail "k8s certs with a wrong password recorded certificates"
refused_sign 4 "the TPM is now in dictionary-attack lockout" locked --pin-source file:wrong.pin
# Locked out: even the right password is refused, and hwca says why and what to do.
refused_sign 4 "is in dictionary-attack lockout" locked --pin-source "file:$PIN_FILE"
assert_contains "$LAST_ERR" "tpm2_dictionarylockout --clear-lockout" "lockout"
tpm2_dictionarylockout --clear-lockout
[[ $(da_failures) == 0x0 ]] || fail "the lockout was not cleared: $(da_failures)"
out=$(hwca_pin sign --ca locked --profile server --csr leaf.csr --out leaf.pem)
assert_contains "$out" "(server) to CN=leaf" "sign after the lockout was cleared"
rm leaf.pem
ROWS=$(rows)

# --- Object memory: other programs fill the swtpm's three transient slots (tpm2-tools
# without a resource manager leave what they load).
for _ in 1 2 3; do tpm2_createprimary -C o >/dev/null; done
[[ $(tpm2_getcap handles-transient | wc -l) == 3 ]] || fail "the slots are not full: $(tpm2_getcap handles-transient)"
refused_sign 5 "TPM '$A_TCTI': looking for the persistent SRK 0x81000001: the TPM has no room for another object" plain
assert_contains "$LAST_ERR" "(TPM_RC_OBJECT_MEMORY)" "object memory"
assert_contains "$LAST_ERR" "flush them (tpm2_flushcontext -t)" "object memory"
tpm2_flushcontext -t
no_transient "at the end"
echo "ok: TPM faults are reported in one line with the right exit code and leave nothing behind"
