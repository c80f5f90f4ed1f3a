#!/usr/bin/env bash
# A CA hierarchy whose keys live in a swtpm: a root (ec-p256, key file) and an intermediate
# (rsa-2048, persistent handle 0x81000010) made by `hwca ca init --generate`; `ca show`
# reports the TPM attributes; the intermediate issues server and client certificates,
# revokes one, and both CAs publish CRLs: stock openssl (`verify -crl_check_all`) and
# GnuTLS (`certtool --verify-chain`, `--verify-crl`) accept what should pass and refuse the
# revoked leaf. Then the Kubernetes PKI of a small cluster from three CAs whose keys are TPM
# key files: with the SRK that is four objects in a TPM of three slots (and later only two
# free ones), so hwca must flush the least recently used key to load the next; every
# certificate chains to its own CA, and nothing stays loaded in the TPM afterwards.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"
# shellcheck source=swtpm_lib.sh
source "$here/swtpm_lib.sh"
need certtool tpm2_getcap tpm2_createprimary tpm2_flushcontext

swtpm_start tpm
export HWCA_TCTI=$SWTPM_TCTI
DIR=$(pwd -P)

no_transient() {
  local objs
  objs=$(tpm2_getcap handles-transient)
  [[ -z $objs ]] || fail "$1: objects are left loaded in the TPM: $objs"
}
flag() {  # flag OUT NAME VALUE
  grep -qxE -- "$2: +$3" <<<"$1" || fail "ca show lacks '$2: $3': $1"
}

# --- The hierarchy.
out=$(hwca ca init --name root --key tpm2:file=root.tpmkey --generate ec-p256 --subject "/CN=TPM root/O=hwca")
assert_contains "$out" "generated ec-p256 key '$DIR/root.tpmkey'" "ca init root"
assert_contains "$out" "root CA 'root' created: O=hwca,CN=TPM root" "ca init root"
out=$(hwca ca init --name inter --key tpm2:handle=0x81000010 --generate rsa-2048 --parent root \
  --subject "/CN=TPM intermediate/O=hwca")
assert_contains "$out" "generated rsa-2048 key '0x81000010'" "ca init inter"
assert_contains "$out" "intermediate CA 'inter' created: O=hwca,CN=TPM intermediate" "ca init inter"
assert_contains "$(tpm2_getcap handles-persistent)" "0x81000010" "persistent handles"
# The home records the key file by its absolute path, and the handle as given.
grep -qxF "    key: tpm2:file=$DIR/root.tpmkey" "$HWCA_HOME/config.yaml" || fail "config.yaml: root's key"
grep -qxF "    key: tpm2:handle=0x81000010" "$HWCA_HOME/config.yaml" || fail "config.yaml: inter's key"
ROOT=$HWCA_HOME/cas/root/cert.pem INTER=$HWCA_HOME/cas/inter/cert.pem

show=$(hwca ca show root --key-attributes)
grep -qxE "key: +tpm2:file=$DIR/root.tpmkey" <<<"$show" || fail "ca show root: key: $show"
grep -qxE "key type: +ec-p256" <<<"$show" || fail "ca show root: key type: $show"
for yes in fixedTPM fixedParent sensitiveDataOrigin userWithAuth sign; do flag "$show" "$yes" yes; done
for no in restricted decrypt password persistent; do flag "$show" "$no" no; done
show=$(hwca ca show inter --key-attributes)
grep -qxE "key: +tpm2:handle=0x81000010" <<<"$show" || fail "ca show inter: key: $show"
grep -qxE "key type: +rsa-2048" <<<"$show" || fail "ca show inter: key type: $show"
grep -qxE "parent: +root" <<<"$show" || fail "ca show inter: parent: $show"
for yes in fixedTPM fixedParent sensitiveDataOrigin userWithAuth sign persistent; do flag "$show" "$yes" yes; done
for no in restricted decrypt; do flag "$show" "$no" no; done
# The certificates hold the TPM keys hwca shows.
for ca in root:tpm2:file=$DIR/root.tpmkey inter:tpm2:handle=0x81000010; do
  name=${ca%%:*} uri=${ca#*:}
  key=$(hwca key show --key "$uri" | sed -n '/-----BEGIN PUBLIC KEY-----/,/-----END PUBLIC KEY-----/p' | pub_digest)
  [[ $(openssl x509 -in "$HWCA_HOME/cas/$name/cert.pem" -pubkey -noout | pub_digest) == "$key" ]] ||
    fail "CA $name's certificate does not hold the key of $uri"
done
out=$(openssl verify -CAfile "$ROOT" "$INTER" 2>&1) || fail "openssl verify inter: $out"
[[ $(openssl x509 -in "$INTER" -noout -text) == *"Signature Algorithm: ecdsa-with-SHA256"* ]] ||
  fail "the intermediate is not signed with the root's EC key"

# --- Leaves from the intermediate (its RSA key at the handle signs).
leaf() {  # leaf NAME PROFILE [openssl req options...]: NAME.pem (with --chain: leaf, inter, root)
  local name=$1 profile=$2
  shift 2
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" \
    -subj "/CN=$name" "$@" -out "$name.csr" 2>/dev/null
  hwca sign --ca inter --profile "$profile" --csr "$name.csr" --out "$name.pem" --chain >/dev/null
  [[ $(grep -c 'BEGIN CERTIFICATE' "$name.pem") == 3 ]] || fail "$name.pem is not leaf, inter, root"
  openssl x509 -in "$name.pem" -out "$name.crt"  # the leaf alone
}
leaf srv.example server -addext "subjectAltName=DNS:srv.example"
leaf alice client
leaf bob client
text=$(openssl x509 -in srv.example.crt -noout -text)
assert_contains "$text" "Signature Algorithm: sha256WithRSAEncryption" "srv.example"
assert_contains "$text" "TLS Web Server Authentication" "srv.example"
assert_contains "$(openssl x509 -in alice.crt -noout -text)" "TLS Web Client Authentication" "alice"

# Revoke bob; both CAs publish their CRLs (the root's is signed by the key file, the
# intermediate's by the handle).
out=$(hwca revoke --ca inter --reason keyCompromise "$(openssl x509 -in bob.crt -noout -serial | cut -d= -f2)")
assert_contains "$out" "(keyCompromise)" "revoke"
out=$(hwca crl --ca inter --out inter.crl)
assert_contains "$out" "CRL #1 of CA 'inter': 1 revoked" "crl inter"
out=$(hwca crl --ca root --out root.crl)
assert_contains "$out" "CRL #1 of CA 'root': 0 revoked" "crl root"
for c in inter:$INTER:sha256WithRSAEncryption root:$ROOT:ecdsa-with-SHA256; do
  IFS=: read -r name cert alg <<<"$c"
  out=$(openssl crl -in "$name.crl" -noout -verify -CAfile "$cert" 2>&1) || fail "openssl crl -verify $name: $out"
  [[ $out == *"verify OK"* && $out != *failure* ]] || fail "$name.crl does not verify: $out"
  out=$(certtool --verify-crl --load-ca-certificate "$cert" --infile "$name.crl" 2>&1) ||
    fail "certtool --verify-crl $name: $out"
  assert_contains "$out" "Verification output: Verified" "certtool --verify-crl $name"
  assert_contains "$(openssl crl -in "$name.crl" -noout -text)" "Signature Algorithm: $alg" "$name.crl"
done
assert_contains "$(openssl crl -in inter.crl -noout -text)" "Key Compromise" "inter.crl"

# openssl with the CRLs of both levels: the server and alice pass, bob is revoked.
verify_crl() {
  openssl verify -crl_check_all -CAfile "$ROOT" -untrusted "$INTER" -CRLfile inter.crl \
    -CRLfile root.crl "$1" 2>&1
}
for name in srv.example alice; do
  out=$(verify_crl "$name.crt") || fail "openssl verify -crl_check_all $name: $out"
  [[ $out == "$name.crt: OK" ]] || fail "openssl verify -crl_check_all $name: $out"
done
if out=$(verify_crl bob.crt); then fail "openssl accepts the revoked bob: $out"; fi
assert_contains "$out" "certificate revoked" "openssl verify bob"
# GnuTLS: each chain (leaf, inter, root) verifies; bob's fails against the CRL.
for name in srv.example alice bob; do
  out=$(certtool --verify-chain --infile "$name.pem" 2>&1) || fail "certtool --verify-chain $name: $out"
  assert_contains "$out" "Chain verification output: Verified" "certtool --verify-chain $name"
done
out=$(certtool --verify --load-ca-certificate "$ROOT" --load-crl inter.crl --infile alice.pem 2>&1) ||
  fail "certtool --verify alice with the CRL: $out"
assert_contains "$out" "Chain verification output: Verified" "certtool alice with the CRL"
if out=$(certtool --verify --load-ca-certificate "$ROOT" --load-crl inter.crl --infile bob.pem 2>&1); then
  fail "certtool accepts the revoked bob: $out"
fi
assert_contains "$out" "revoked" "certtool bob with the CRL"
out=$(hwca audit verify) || fail "audit verify: $out"
no_transient "after the hierarchy"

# --- The Kubernetes PKI from three CAs whose keys are TPM key files (kubeadm's subjects,
# as k8s_make_cas makes them in a token).
tpm_key_file() { echo "tpm2:file=$1.tpmkey"; }
k8s_make_cas ec-p256 tpm_key_file hwca
k8s_cluster_yaml cluster.yaml cp1:control-plane:10.0.0.11 cp2:control-plane:10.0.0.12 w1:worker:10.0.0.21
[[ $(tpm2_getcap properties-fixed | sed -n '/TPM2_PT_HR_TRANSIENT_MIN/{n;p}') == *0x3 ]] ||
  fail "the swtpm does not have three transient slots; the test assumes it"
out=$(hwca k8s certs --config cluster.yaml --out pki)
assert_contains "$out" "wrote 3 node trees under pki" "k8s certs"
no_transient "after k8s certs"

# k8s_chains TREE: the certificates chain to their own CA (and not to another one).
k8s_chains() {
  local p=$1/cp1/pki out crt ca
  for pair in apiserver.crt:ca.crt apiserver-kubelet-client.crt:ca.crt etcd/server.crt:etcd/ca.crt \
    etcd/peer.crt:etcd/ca.crt apiserver-etcd-client.crt:etcd/ca.crt \
    front-proxy-client.crt:front-proxy-ca.crt; do
    crt=${pair%%:*} ca=${pair#*:}
    out=$(openssl verify -CAfile "$p/$ca" "$p/$crt" 2>&1) || fail "$1: $crt under $ca: $out"
    [[ $out == "$p/$crt: OK" ]] || fail "$1: $crt under $ca: $out"
  done
  for pair in etcd/server.crt:ca.crt apiserver.crt:etcd/ca.crt front-proxy-client.crt:ca.crt; do
    crt=${pair%%:*} ca=${pair#*:}
    if openssl verify -CAfile "$p/$ca" "$p/$crt" >/dev/null 2>&1; then
      fail "$1: $crt verifies under the wrong CA $ca"
    fi
  done
  cmp -s "$p/ca.crt" "$HWCA_HOME/cas/k8s-ca/cert.pem" || fail "$1: ca.crt is not k8s-ca's"
  cmp -s "$p/etcd/ca.crt" "$HWCA_HOME/cas/etcd-ca/cert.pem" || fail "$1: etcd/ca.crt is not etcd-ca's"
  cmp -s "$p/front-proxy-ca.crt" "$HWCA_HOME/cas/front-proxy-ca/cert.pem" ||
    fail "$1: front-proxy-ca.crt is not front-proxy-ca's"
  # A kubeconfig's client certificate (worker w1's kubelet.conf) from the kubernetes CA.
  sed -n 's/^ *client-certificate-data: "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$1/w1/kubelet.conf" | base64 -d >"$1-w1.crt"
  out=$(openssl verify -CAfile "$HWCA_HOME/cas/k8s-ca/cert.pem" "$1-w1.crt" 2>&1) ||
    fail "$1: w1's kubelet.conf certificate: $out"
  assert_contains "$(openssl x509 -in "$1-w1.crt" -noout -subject)" "CN = system:node:w1" "$1 w1 kubelet.conf"
}
k8s_chains pki

# Again with one of the three slots held by another program: the SRK and the three CA keys
# now pass through two slots.
tpm2_createprimary -C o -c held.ctx >/dev/null
[[ $(tpm2_getcap handles-transient | wc -l) == 1 ]] || fail "tpm2_createprimary did not keep one object loaded"
out=$(hwca k8s certs --config cluster.yaml --out pki2)
assert_contains "$out" "wrote 3 node trees under pki2" "k8s certs with two free slots"
[[ $(tpm2_getcap handles-transient | wc -l) == 1 ]] || fail "hwca left objects beside the held one"
tpm2_flushcontext -t
k8s_chains pki2
# Every certificate of both runs is in the issuance database: 2 CAs, 3 leaves, 3 k8s CAs,
# and per run 2 x 12 for the control-plane nodes + 1 for the worker's kubelet.conf.
rows=$(hwca cert list | tail -n +2 | wc -l)
[[ $rows == $((2 + 3 + 3 + 2 * 25)) ]] || fail "the database holds $rows certificates"
out=$(hwca audit verify) || fail "audit verify: $out"
no_transient "at the end"
echo "ok: TPM-held CAs issue, revoke, publish CRLs and make a cluster's PKI"
