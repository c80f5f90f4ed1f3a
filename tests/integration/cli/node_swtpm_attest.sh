#!/usr/bin/env bash
# hwca-node's side of TPM attestation with a swtpm of the script's own (EK certificates from
# swtpm_setup), without a server:
#  1. `ek show` prints the RSA EK certificate from NV 0x01c00002 (the default) and the
#     P-384 one from 0x01c00016 (--ek ecc), each with the SHA-256 of its SubjectPublicKeyInfo
#     as openssl computes it from the NV bytes (tpm2_nvread); --out writes that certificate.
#  2. A P-256 EK certificate put in NV 0x01c0000a for the key of `tpm2_createek -G ecc`
#     (the L-2 template) is found and matches hwca's template; one for another key is
#     refused (exit 5: the EK from the template is not the certificate's key).
#  3. enroll's options: exactly one of --attest and --bootstrap-token-file; --ek only with
#     --attest (renew: only with --new-key); exit 2, one line.
#  4. enroll --attest against a server that is down: exit 7, one line; a TPM that is down:
#     exit 5. No transient object is left in the TPM after any of these.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
: "${HWCA_NODE_BIN:?HWCA_NODE_BIN must name the hwca-node binary}"
[[ -x $HWCA_NODE_BIN ]] || fail "HWCA_NODE_BIN=$HWCA_NODE_BIN is not executable"
need tpm2_nvread tpm2_nvdefine tpm2_nvwrite tpm2_createek tpm2_getcap tpm2_flushcontext
# shellcheck source=swtpm_lib.sh
source "$here/swtpm_lib.sh"

swtpm_start node
export HWCA_TCTI=$SWTPM_TCTI

node() {
  RC=0
  "$HWCA_NODE_BIN" "$@" >"$WORK/node.out" 2>"$WORK/node.err" || RC=$?
  cat "$WORK/node.err" >>"$STDERR_LOG"
  OUT=$(cat "$WORK/node.out") ERR=$(cat "$WORK/node.err")
}
# refused CODE TEXT WHAT: the last hwca-node exited CODE with one line naming TEXT.
refused() {
  [[ $RC == "$1" ]] || fail "$3: hwca-node exited $RC, expected $1; stderr: $ERR; stdout: $OUT"
  [[ $(wc -l <"$WORK/node.err") == 1 && $ERR == "hwca-node: "* ]] ||
    fail "$3: stderr is not one 'hwca-node: ' line: $ERR"
  [[ $ERR == *"$2"* ]] || fail "$3: stderr lacks '$2': $ERR"
}
no_transients() {
  local left
  left=$(tpm2_getcap handles-transient) || fail "tpm2_getcap failed"
  [[ -z $left ]] || fail "$1 left transient objects in the TPM: $left"
}
# field NAME: the value after "NAME: " in the last output.
field() { sed -n "s/^$1: //p" <<<"$OUT"; }
nv_spki_sha256() {
  tpm2_nvread "$1" -o "$WORK/nv.der" >/dev/null 2>&1 || fail "tpm2_nvread $1 failed"
  openssl x509 -inform DER -in "$WORK/nv.der" -noout -pubkey | pub_digest
}

# --- 1. ek show ------------------------------------------------------------------------------

node ek show
[[ $RC == 0 ]] || fail "ek show exited $RC: $ERR"
[[ $(field EK) == rsa-2048 && $(field certificate) == "NV 0x01c00002" ]] ||
  fail "ek show: not the RSA EK certificate: $OUT"
RSA_SHA=$(nv_spki_sha256 0x01c00002)
[[ $(field "SHA-256 (SubjectPublicKeyInfo)") == "$RSA_SHA" ]] ||
  fail "ek show: SHA-256 '$(field "SHA-256 (SubjectPublicKeyInfo)")', openssl says $RSA_SHA"
[[ $RSA_SHA =~ ^[0-9a-f]{64}$ ]] || fail "the digest '$RSA_SHA' is not 64 lower-case hex digits"
sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' <<<"$OUT" >"$WORK/shown.pem"
cmp -s <(openssl x509 -in "$WORK/shown.pem" -outform DER) "$WORK/nv.der" ||
  fail "ek show's certificate is not the one in NV 0x01c00002"
no_transients "ek show"

node ek show --ek ecc --out "$WORK/ek-ecc.pem"
[[ $RC == 0 ]] || fail "ek show --ek ecc exited $RC: $ERR"
[[ $(field EK) == ecc-p384 && $(field certificate) == "NV 0x01c00016" ]] ||
  fail "ek show --ek ecc: not swtpm's P-384 EK certificate: $OUT"
ECC_SHA=$(nv_spki_sha256 0x01c00016)
[[ $(field "SHA-256 (SubjectPublicKeyInfo)") == "$ECC_SHA" && $ECC_SHA != "$RSA_SHA" ]] ||
  fail "ek show --ek ecc: SHA-256 '$(field "SHA-256 (SubjectPublicKeyInfo)")', openssl says $ECC_SHA"
cmp -s <(openssl x509 -in "$WORK/ek-ecc.pem" -outform DER) "$WORK/nv.der" ||
  fail "--out did not write the P-384 EK certificate"
[[ $(stat -c %a "$WORK/ek-ecc.pem") == 644 ]] || fail "--out wrote mode $(stat -c %a "$WORK/ek-ecc.pem")"
no_transients "ek show --ek ecc"

# --- 2. a P-256 EK certificate: hwca's L-2 template against tpm2_createek's ------------------

tpm2_createek -G ecc -c "$WORK/ek256.ctx" -u "$WORK/ek256.pem" -f pem >/dev/null 2>&1 ||
  fail "tpm2_createek -G ecc failed"
tpm2_flushcontext -t >/dev/null 2>&1 || true
# certify PUBKEY-PEM OUT-DER: a certificate for that key, signed by a throwaway CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/ca.key" \
  -subj /CN=test-ek-ca -days 2 -out "$WORK/ca.pem" 2>/dev/null || fail "no test CA"
certify() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/tmp.key" \
    -subj /CN=ek -out "$WORK/tmp.csr" 2>/dev/null &&
    openssl x509 -req -in "$WORK/tmp.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
      -force_pubkey "$1" -days 2 -outform DER -out "$2" 2>/dev/null || fail "cannot certify $1"
}
certify "$WORK/ek256.pem" "$WORK/ek256.der"
size=$(stat -c %s "$WORK/ek256.der")
tpm2_nvdefine 0x01c0000a -C o -s "$size" -a "ownerwrite|ownerread|authread|authwrite|no_da" \
  >/dev/null 2>&1 || fail "cannot define NV 0x01c0000a"
tpm2_nvwrite 0x01c0000a -C o -i "$WORK/ek256.der" >/dev/null 2>&1 || fail "cannot write NV 0x01c0000a"
node ek show --ek ecc
[[ $RC == 0 ]] || fail "ek show with a P-256 certificate exited $RC: $ERR"
[[ $(field EK) == ecc-p256 && $(field certificate) == "NV 0x01c0000a" ]] ||
  fail "ek show --ek ecc did not take the P-256 certificate first: $OUT"
[[ $(field "SHA-256 (SubjectPublicKeyInfo)") == "$(pub_digest <"$WORK/ek256.pem")" ]] ||
  fail "the P-256 EK's digest is not tpm2_createek's key's"
no_transients "ek show (P-256)"

# The same index holding a certificate for another key: the template's EK is not its key.
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkey -pubout >"$WORK/other.pem"
certify "$WORK/other.pem" "$WORK/other.der"
tpm2_nvundefine 0x01c0000a -C o >/dev/null 2>&1 || fail "cannot undefine NV 0x01c0000a"
tpm2_nvdefine 0x01c0000a -C o -s "$(stat -c %s "$WORK/other.der")" \
  -a "ownerwrite|ownerread|authread|authwrite|no_da" >/dev/null 2>&1 || fail "cannot define NV 0x01c0000a again"
tpm2_nvwrite 0x01c0000a -C o -i "$WORK/other.der" >/dev/null 2>&1 || fail "cannot write NV 0x01c0000a"
node ek show --ek ecc
refused 5 "is not the key of the EK certificate in NV 0x01c0000a" "a certificate for another key"
MISMATCH_MSG=$ERR
no_transients "a refused EK"
tpm2_nvundefine 0x01c0000a -C o >/dev/null 2>&1 || fail "cannot undefine NV 0x01c0000a"

# --- 3. options ---------------------------------------------------------------------------------

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/srv.key" \
  -subj /CN=localhost -days 2 -out "$WORK/srv.pem" 2>/dev/null || fail "no server CA"
NODE=$WORK/node
mkdir -m 700 "$NODE"
KEY_URI=tpm2:file=$NODE/kubelet.tpmkey
enroll() {
  node enroll --server "${SRV:-https://127.0.0.1:1}" --ca-cert "$WORK/srv.pem" --node-name worker-1 \
    --key "$KEY_URI" --cert-out "$NODE/kubelet.pem" "$@"
}
(umask 077 && echo "abcdef.0123456789abcdef0123456789abcdef" >"$WORK/token")
enroll --attest --bootstrap-token-file "$WORK/token"
refused 2 "excludes" "--attest with a token file"
enroll
refused 2 "exactly one of --bootstrap-token-file and --attest" "neither --attest nor a token"
enroll --bootstrap-token-file "$WORK/token" --ek rsa
refused 2 "--ek chooses the EK of --attest" "--ek without --attest"
enroll --attest --ek dsa
refused 2 "--ek" "--ek dsa"
node renew --server https://127.0.0.1:1 --ca-cert "$WORK/srv.pem" --key "$KEY_URI" \
  --cert "$WORK/srv.pem" --ek rsa
refused 2 "--ek chooses the EK of renew --new-key" "renew --ek without --new-key"
[[ ! -e $NODE/kubelet.tpmkey ]] || fail "a refused option made the key"

# --- 4. enroll --attest with the server or the TPM down -------------------------------------

port=$((20000 + RANDOM % 10000))
while ! _swtpm_port_free "$port"; do port=$((port + 1)); done
SRV=https://127.0.0.1:$port enroll --attest
refused 7 "EST server 127.0.0.1:$port: cannot connect" "enroll --attest, no server"
DOWN_MSG=$ERR
[[ ! -e $NODE/kubelet.pem ]] || fail "a failed enrollment wrote a certificate"
no_transients "enroll --attest (no server)"
swtpm_stop
node ek show
refused 5 "cannot reach the TPM" "ek show, the TPM stopped"
TPM_MSG=$ERR

cat <<EOF
  another key in the EK certificate: $MISMATCH_MSG
  no server:                         $DOWN_MSG
  no TPM:                            $TPM_MSG
EOF
echo "ok: ek show (RSA, P-384, P-256), the template checked against the certificate, enroll --attest's options and failures"
