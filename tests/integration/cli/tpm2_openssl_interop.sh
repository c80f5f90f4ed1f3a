#!/usr/bin/env bash
# hwca's TPM keys and tpm2-openssl's are one format, in both directions, and hwca's
# provider serves TPM keys to the openssl command and to TLS:
#  - key files made by `hwca key generate` (ec-p256, rsa-2048, and one with a password given
#    with -passin) sign CSRs through tpm2-openssl; the CSRs verify and carry the public key
#    `hwca key show` prints;
#  - keys made by `openssl genpkey -provider tpm2` (EC P-256, RSA 2048) are shown by hwca,
#    adopted as CA keys by `hwca ca init`, and the CAs issue with `hwca sign`; `openssl
#    verify` accepts the certificates;
#  - openssl with the hwca provider signs CSRs with TPM keys: ECDSA (P-256, P-384), RSA
#    PKCS#1 v1.5 and RSA-PSS; the signatures verify in OpenSSL's default provider;
#  - `openssl s_server -provider default -provider hwca` with a TPM key (EC, then RSA) and a
#    certificate hwca issued: s_client with TLS 1.2 and 1.3 and gnutls-cli complete the
#    handshake and verify the server against the CA;
#  - a relative key path given to `hwca ca init` is recorded as an absolute one.
# Only one program talks to the swtpm at a time (it serves one connection): servers end by
# themselves (-naccept) and the TLS clients never touch the TPM.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"
# shellcheck source=swtpm_lib.sh
source "$here/swtpm_lib.sh"
need gnutls-cli tpm2_getcap tpm2_dictionarylockout ss
[[ -n $(find_lib ossl-modules/tpm2.so) ]] || skip "tpm2-openssl (ossl-modules/tpm2.so) is not installed"

swtpm_start tpm
export HWCA_TCTI=$SWTPM_TCTI
DIR=$(pwd -P)
# TLS commands need the default provider first (docs/cli.md); the order works for all.
TPM_PROVIDERS=(-provider-path "$HWCA_PROVIDER_DIR" -provider default -provider hwca)
export TPM_PW=$PIN  # the password of the keys that have one (so lib.sh checks it never leaks)

no_transient() {
  local objs
  objs=$(tpm2_getcap handles-transient)
  [[ -z $objs ]] || fail "$1: objects are left loaded in the TPM: $objs"
}
hwca_pub() {  # hwca_pub URI: digest of the public key `hwca key show` prints
  hwca key show --key "$1" | sed -n '/-----BEGIN PUBLIC KEY-----/,/-----END PUBLIC KEY-----/p' |
    pub_digest
}
csr_pub() { openssl req -in "$1" -pubkey -noout | pub_digest; }
csr_sigalg() { openssl req -in "$1" -noout -text | sed -n 's/^ *Signature Algorithm: //p' | head -n 1; }

# --- hwca's key files in tpm2-openssl.
hwca key generate --key tpm2:file=h-ec.tpmkey --type ec-p256 >/dev/null
hwca key generate --key tpm2:file=h-rsa.tpmkey --type rsa-2048 >/dev/null
hwca key generate --key "tpm2:file=h-pw.tpmkey?pin-source=env:TPM_PW" --type ec-p256 >/dev/null
for k in h-ec:ecdsa-with-SHA256 h-rsa:sha256WithRSAEncryption h-pw:ecdsa-with-SHA256; do
  name=${k%%:*} alg=${k#*:}
  pass=()
  [[ $name == h-pw ]] && pass=(-passin env:TPM_PW)
  _logged openssl req -new -provider tpm2 -provider default -key "$name.tpmkey" "${pass[@]}" \
    -subj "/CN=$name" -out "$name.csr"
  csr_verifies "$name.csr"
  [[ $(csr_sigalg "$name.csr") == "$alg" ]] || fail "$name.csr: $(csr_sigalg "$name.csr")"
  [[ $(csr_pub "$name.csr") == "$(hwca_pub "tpm2:file=$name.tpmkey")" ]] ||
    fail "tpm2-openssl signed $name.csr with another key than the one hwca shows"
done
# The password matters to tpm2-openssl too: a wrong one is refused by the TPM.
expect_ossl_fail "the authorization HMAC check failed" env TPM_PW="$WRONG_PIN" openssl req -new -provider tpm2 -provider default \
  -key h-pw.tpmkey -passin env:TPM_PW -subj /CN=x -out wrong.csr
tpm2_dictionarylockout --clear-lockout  # that failure counted towards the TPM's lockout
no_transient "after tpm2-openssl"

# --- tpm2-openssl's key files in hwca: shown, adopted as CA keys, issuing.
openssl genpkey -provider tpm2 -algorithm EC -pkeyopt group:P-256 -out o-ec.tpmkey 2>/dev/null
openssl genpkey -provider tpm2 -algorithm RSA -pkeyopt bits:2048 -out o-rsa.tpmkey 2>/dev/null
for k in o-ec:ec-p256:256 o-rsa:rsa-2048:2048; do
  IFS=: read -r name type bits <<<"$k"
  [[ $(head -n 1 "$name.tpmkey") == "-----BEGIN TSS2 PRIVATE KEY-----" ]] || fail "$name.tpmkey: not a TSS2 key"
  show=$(hwca key show --key "tpm2:file=$name.tpmkey")
  grep -qxF "type:               $type ($bits bits)" <<<"$show" || fail "key show $name: $show"
  grep -qxE "sign: +yes" <<<"$show" || fail "key show $name: not a signing key: $show"
  grep -qxE "password: +no" <<<"$show" || fail "key show $name: password: $show"
  tools_pub=$(openssl pkey -provider tpm2 -provider default -in "$name.tpmkey" -pubout | pub_digest)
  [[ $(hwca_pub "tpm2:file=$name.tpmkey") == "$tools_pub" ]] ||
    fail "hwca and tpm2-openssl read different public keys from $name.tpmkey"

  out=$(hwca ca init --name "$name" --key "tpm2:file=$DIR/$name.tpmkey" --subject "/CN=$name root")
  assert_contains "$out" "root CA '$name' created: CN=$name root" "ca init $name"
  ca=$HWCA_HOME/cas/$name/cert.pem
  [[ $(openssl x509 -in "$ca" -pubkey -noout | pub_digest) == "$tools_pub" ]] ||
    fail "CA $name's certificate holds another key than $name.tpmkey"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$name-leaf.key"
  openssl req -new -key "$name-leaf.key" -subj "/CN=leaf.$name.example" \
    -addext "subjectAltName=DNS:leaf.$name.example" -out "$name-leaf.csr"
  out=$(hwca sign --ca "$name" --profile server --csr "$name-leaf.csr" --out "$name-leaf.pem")
  assert_contains "$out" "(server) to CN=leaf.$name.example" "hwca sign with $name"
  out=$(openssl verify -CAfile "$ca" "$ca" "$name-leaf.pem" 2>&1) || fail "openssl verify ($name): $out"
  [[ $out == "$ca: OK"$'\n'"$name-leaf.pem: OK" ]] || fail "openssl verify ($name): $out"
done
# The check can fail: the EC CA's leaf does not verify under the RSA CA.
if openssl verify -CAfile "$HWCA_HOME/cas/o-rsa/cert.pem" o-ec-leaf.pem >/dev/null 2>&1; then
  fail "openssl verify accepts a leaf under the wrong CA"
fi
no_transient "after hwca with tpm2-openssl keys"

# --- openssl with the hwca provider: ECDSA, RSA PKCS#1 v1.5, RSA-PSS.
hwca key generate --key tpm2:file=h-p384.tpmkey --type ec-p384 >/dev/null
# provider_csr NAME KEYFILE EXPECTED-ALGORITHM [openssl req options...]
provider_csr() {
  local name=$1 key=$2 alg=$3
  shift 3
  _logged openssl req -new "${TPM_PROVIDERS[@]}" -key "tpm2:file=$DIR/$key" -subj "/CN=$name" \
    -out "$name.csr" "$@"
  csr_verifies "$name.csr"
  [[ $(csr_sigalg "$name.csr") == "$alg" ]] || fail "$name.csr is signed $(csr_sigalg "$name.csr"), not $alg"
  [[ $(csr_pub "$name.csr") == "$(hwca_pub "tpm2:file=$key")" ]] ||
    fail "$name.csr holds another key than $key"
}
provider_csr p-ec h-ec.tpmkey ecdsa-with-SHA256
provider_csr p-p384 h-p384.tpmkey ecdsa-with-SHA384 -sha384
provider_csr p-rsa h-rsa.tpmkey sha256WithRSAEncryption
provider_csr p-rsa512 h-rsa.tpmkey sha512WithRSAEncryption -sha512
provider_csr p-pss h-rsa.tpmkey rsassaPss -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest
text=$(openssl req -in p-pss.csr -noout -text)
assert_contains "$text" "Hash Algorithm: sha256" "p-pss.csr"
assert_contains "$text" "Salt Length: 0x20" "p-pss.csr"
provider_csr p-tools o-rsa.tpmkey rsassaPss -sigopt rsa_padding_mode:pss  # tpm2-openssl's key
provider_csr p-pw "h-pw.tpmkey" ecdsa-with-SHA256 -passin env:TPM_PW
# The signatures can fail: a CSR whose signature is altered does not verify.
openssl req -in p-rsa.csr -outform DER -out p-rsa.der
size=$(stat -c %s p-rsa.der)
byte=$(od -An -tu1 -j $((size - 10)) -N 1 p-rsa.der)
printf '%b' "\\x$(printf %02x $((byte ^ 0xff)))" | dd of=p-rsa.der bs=1 seek=$((size - 10)) conv=notrunc status=none
out=$(openssl req -inform DER -in p-rsa.der -verify -noout 2>&1 || true)
[[ $out != *"verify OK"* ]] || fail "an altered CSR signature verifies: $out"
no_transient "after openssl with the hwca provider"

# --- TLS with TPM keys in s_server.
# server_cert NAME KEYFILE: NAME.pem, a server certificate from CA o-ec for the TPM key.
server_cert() {
  _logged openssl req -new "${TPM_PROVIDERS[@]}" -key "tpm2:file=$DIR/$2" -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -out "$1.csr"
  hwca sign --ca o-ec --profile server --csr "$1.csr" --out "$1.pem" >/dev/null
}
server_cert tls-ec h-ec.tpmkey
server_cert tls-rsa h-rsa.tpmkey
CA_PEM=$HWCA_HOME/cas/o-ec/cert.pem

# start_server LOG S_SERVER-ARGS...: s_server on a free port of 127.0.0.1, in the background
# (k8s_spawn: stopped when the script exits);
# sets PORT and SERVER_PID once it listens (its "ACCEPT" line: a probe connection would
# count as one of its -naccept connections). Ports come from below the kernel's ephemeral
# range, and one that any socket uses (even in TIME-WAIT) is skipped; a port taken in the
# meantime makes s_server exit, and another is tried.
start_server() {
  local log=$1 i
  shift
  for _ in 1 2 3 4 5; do
    PORT=$((10000 + RANDOM % 20000))
    [[ -z $(ss -tanH "( sport = :$PORT or dport = :$PORT )") ]] || continue
    k8s_spawn "$log" openssl s_server "${TPM_PROVIDERS[@]}" -accept "127.0.0.1:$PORT" "$@"
    SERVER_PID=${K8S_PIDS[-1]}
    for ((i = 0; i < 200; i++)); do
      grep -qx ACCEPT "$log" 2>/dev/null && return 0
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    wait "$SERVER_PID" 2>/dev/null || true
    grep -q "Address already in use" "$log" || fail "s_server did not start: $(cat "$log")"
  done
  fail "s_server found no free port: $(cat "$log")"
}

# tls_check NAME KEYFILE PEER-SIGNATURE GNUTLS-SIGNATURE: one s_server that ends after three
# handshakes (s_client TLS 1.2, s_client TLS 1.3, gnutls-cli), each checked.
tls_check() {
  local name=$1 key=$2 peer_sig=$3 gnutls_sig=$4 port out pid i
  start_server "$name.server.log" -naccept 3 -www -cert "$name.pem" -key "tpm2:file=$DIR/$key"
  port=$PORT pid=$SERVER_PID
  out=$(openssl s_client -connect "127.0.0.1:$port" -tls1_2 -CAfile "$CA_PEM" -verify_return_error \
    -verify_hostname localhost </dev/null 2>&1) || fail "$name: s_client -tls1_2: $out"
  assert_contains "$out" "Protocol  : TLSv1.2" "$name s_client -tls1_2"
  assert_contains "$out" "Verify return code: 0 (ok)" "$name s_client -tls1_2"
  assert_contains "$out" "Peer signature type: $peer_sig" "$name s_client -tls1_2"
  out=$(openssl s_client -connect "127.0.0.1:$port" -tls1_3 -CAfile "$CA_PEM" -verify_return_error \
    -verify_hostname localhost </dev/null 2>&1) || fail "$name: s_client -tls1_3: $out"
  assert_contains "$out" "New, TLSv1.3, Cipher is" "$name s_client -tls1_3"
  assert_contains "$out" "Verify return code: 0 (ok)" "$name s_client -tls1_3"
  assert_contains "$out" "Peer signature type: $peer_sig" "$name s_client -tls1_3"
  out=$(gnutls-cli --x509cafile "$CA_PEM" -p "$port" localhost </dev/null 2>&1) ||
    fail "$name: gnutls-cli: $out"
  assert_contains "$out" "The certificate is trusted." "$name gnutls-cli"
  assert_contains "$out" "(TLS1.3-X.509)-(ECDHE-SECP256R1)-($gnutls_sig)" "$name gnutls-cli"
  assert_contains "$out" "Handshake was completed" "$name gnutls-cli"
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    fail "$name: s_server did not end after three handshakes: $(cat "$name.server.log")"
  fi
  wait "$pid" || fail "$name: s_server failed: $(cat "$name.server.log")"
  assert_contains "$(cat "$name.server.log")" "3 server accepts that finished" "$name s_server"
  no_transient "after s_server ($name)"
}
tls_check tls-ec h-ec.tpmkey ECDSA ECDSA-SECP256R1-SHA256
tls_check tls-rsa h-rsa.tpmkey RSA-PSS RSA-PSS-RSAE-SHA256
# The check can fail: a client that trusts another CA refuses the server.
start_server wrong-ca.log -naccept 1 -www -cert tls-ec.pem -key "tpm2:file=$DIR/h-ec.tpmkey"
if openssl s_client -connect "127.0.0.1:$PORT" -tls1_3 -CAfile "$HWCA_HOME/cas/o-rsa/cert.pem" \
  -verify_return_error </dev/null >wrong-ca.out 2>&1; then
  fail "s_client accepted the server under the wrong CA"
fi
wait "$SERVER_PID" || true
no_transient "after the refused handshake"

# --- A relative key path: `hwca ca init` takes it from the current folder and records the
# absolute path (docs/cli.md), as it does for a key it generates.
rc=0
out=$(hwca ca init --name rel --key tpm2:file=o-rsa.tpmkey --subject "/CN=relative") || rc=$?
[[ $rc == 0 ]] || fail "hwca ca init --key tpm2:file=o-rsa.tpmkey (a relative path) exited $rc"
assert_contains "$out" "root CA 'rel' created" "ca init with a relative key path"
grep -qxF "    key: tpm2:file=$DIR/o-rsa.tpmkey" "$HWCA_HOME/config.yaml" ||
  fail "config.yaml does not record the absolute path: $(cat "$HWCA_HOME/config.yaml")"
# --- The TPM named in the provider's openssl.cnf section (tpm2-tcti), HWCA_TCTI unset; the
# check can fail: the same configuration naming a closed port does not load the key.
provider_cnf tcti.cnf "tpm2-tcti=$SWTPM_TCTI"
provider_cnf closed.cnf "tpm2-tcti=swtpm:host=127.0.0.1,port=$(free_port)"
(unset HWCA_TCTI && OPENSSL_CONF=$PWD/tcti.cnf openssl req -new -key "tpm2:file=$DIR/h-ec.tpmkey" \
  -subj /CN=cnf -out cnf.csr) || fail "openssl req with tpm2-tcti from openssl.cnf failed"
openssl req -in cnf.csr -verify -noout 2>/dev/null || fail "cnf.csr does not verify"
if (unset HWCA_TCTI && OPENSSL_CONF=$PWD/closed.cnf openssl req -new \
  -key "tpm2:file=$DIR/h-ec.tpmkey" -subj /CN=cnf -out closed.csr) >closed.out 2>&1; then
  fail "openssl req reached a TPM through a closed port"
fi
assert_contains "$(cat closed.out)" "cannot reach the TPM" "tpm2-tcti naming a closed port"
no_transient "after the openssl.cnf checks"
echo "ok: TPM keys work across hwca, tpm2-openssl, the openssl command and TLS"
