#!/usr/bin/env bash
# hwca quickstart: the Kubernetes PKI of a small cluster (docs/examples/cluster.yaml) from
# three CAs whose keys are made inside a local SoftHSM2 token; checked with the stock
# openssl (and kubectl, when installed). Then the EST server (hwca serve) enrolls a node
# whose kubelet key is made inside a software TPM (swtpm), and both are stopped.
# Works on a fresh Debian 12 machine as root (installs what is missing, builds, runs).
# State (token, PIN files, CA home, the cluster tree) goes to ./state (or $HWCA_STATE);
# re-running reuses the token, the CAs and every still-valid file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${HWCA_STATE:-$root/state}
build=${HWCA_BUILD_DIR:-$root/build}

say() { printf '\n== %s\n' "$*"; }

say "Building hwca"
# Only what this script runs: hwca, hwca-node and the provider hwca.so (not the tests).
"$root/scripts/build.sh" runtime
hwca="$build/bin/hwca"
provider_dir="$build/lib"

umask 077
mkdir -p "$state/tokens"
export SOFTHSM2_CONF="$state/softhsm2.conf"
export HWCA_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
label=hwca-quickstart
if [ ! -f "$SOFTHSM2_CONF" ]; then
  cat > "$SOFTHSM2_CONF" <<CONF
directories.tokendir = $state/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
fi

say "SoftHSM2 token '$label' in $state/tokens"
if ! "$hwca" token list 2>/dev/null | grep -q "^token '$label'"; then
  # Random PINs, kept only in 0600 files: never on a command line.
  openssl rand -hex 12 > "$state/user.pin"
  openssl rand -hex 12 > "$state/so.pin"
  "$hwca" --pin-source "file:$state/user.pin" token init --label "$label" \
    --so-pin-source "file:$state/so.pin"
  echo "PINs are in $state/user.pin and $state/so.pin (mode 0600)"
else
  echo "reusing the token"
fi
export HWCA_PIN_SOURCE="file:$state/user.pin"

export HWCA_HOME="$state/home"
cluster_yaml="$root/docs/examples/cluster.yaml"
out="$state/cluster"

# The cluster's three CAs, as kubeadm makes them (CN and SAN DNS:<CN>, 10 years), each with
# its own EC P-256 key generated inside the token.
say "The cluster's CAs; their keys are generated inside the token and never leave it"
for spec in k8s-ca:kubernetes etcd-ca:etcd-ca front-proxy-ca:front-proxy-ca; do
  name=${spec%%:*} cn=${spec#*:}
  if "$hwca" ca show "$name" >/dev/null 2>&1; then
    echo "reusing CA '$name' in $HWCA_HOME"
  else
    "$hwca" ca init --name "$name" --key "pkcs11:token=$label;object=$name" --generate ec-p256 \
      --subject "/CN=$cn" --san "DNS:$cn" --days 3650
  fi
done
"$hwca" ca list

say "The whole cluster PKI from $cluster_yaml"
sed -n '/^nodes:/,$p' "$cluster_yaml"
"$hwca" k8s certs --config "$cluster_yaml" --out "$out"

say "What was written for control-plane node cp1 and worker w1 (kubeadm's layout, no CA key)"
(cd "$out" && find cp1 w1 -type f | sort | sed 's/^/  /')

say "Checked with the stock openssl: chains, names, key usages"
openssl verify -CAfile "$out/cp1/pki/ca.crt" "$out/cp1/pki/apiserver.crt"
openssl verify -CAfile "$out/cp1/pki/etcd/ca.crt" "$out/cp1/pki/etcd/server.crt" \
  "$out/cp1/pki/apiserver-etcd-client.crt"
openssl verify -CAfile "$out/cp1/pki/front-proxy-ca.crt" "$out/cp1/pki/front-proxy-client.crt"
openssl x509 -in "$out/cp1/pki/apiserver.crt" -noout -subject \
  -ext subjectAltName,keyUsage,extendedKeyUsage
if command -v kubectl >/dev/null; then
  say "admin.conf as kubectl reads it"
  kubectl --kubeconfig "$out/cp1/admin.conf" config view
fi

say "Expiry, as kubeadm's check-expiration shows it"
"$hwca" k8s check-expiration --dir "$out" --node cp1

say "Every certificate is in the issuance database and the hash-chained audit log"
"$hwca" cert list --ca front-proxy-ca
"$hwca" audit verify

# openssl reaches the same key through the provider module; the PIN through pin-source.
key_uri="pkcs11:token=$label;object=k8s-ca"
pin_path=$(printf '%s' "$state/user.pin" | sed 's/ /%20/g')
prov=(-provider-path "$provider_dir" -provider hwca -provider default)
say "The stock openssl command signs with the cluster CA's token key through hwca's provider"
openssl req -new "${prov[@]}" -key "$key_uri?pin-source=file:$pin_path" \
  -subj "/CN=signed in the token" -out "$state/token.csr"
openssl req -in "$state/token.csr" -noout -verify

say "Enrollment by TPM attestation: 'hwca serve' for k8s-ca, and node w1 whose kubelet key is made in its TPM (swtpm)"
node_dir="$state/node-w1"
mkdir -p "$node_dir/tpm" "$node_dir/tpm-config"
if [ ! -f "$node_dir/tpm/tpm2-00.permall" ]; then
  { XDG_CONFIG_HOME="$node_dir/tpm-config" swtpm_setup --tpm2 --create-config-files overwrite,root &&
    XDG_CONFIG_HOME="$node_dir/tpm-config" swtpm_setup --tpm2 --tpmstate "$node_dir/tpm" \
      --create-ek-cert --lock-nvram --config "$node_dir/tpm-config/swtpm_setup.conf"; } \
    > "$node_dir/swtpm-setup.log" 2>&1
fi
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
tpm_port=""
for _ in $(seq 50); do
  p=$((20000 + RANDOM % 10000))
  if port_free "$p" && port_free $((p + 1)); then tpm_port=$p; break; fi
done
[ -n "$tpm_port" ] || { echo "no free port pair for swtpm" >&2; exit 1; }
swtpm socket --tpm2 --tpmstate dir="$node_dir/tpm" --flags not-need-init,startup-clear \
  --server type=tcp,port="$tpm_port",bindaddr=127.0.0.1 \
  --ctrl type=tcp,port=$((tpm_port + 1)),bindaddr=127.0.0.1 &
swtpm_pid=$!
"$hwca" serve --ca k8s-ca --listen 127.0.0.1:0 > "$state/serve.out" 2> "$state/serve.err" &
serve_pid=$!
# The TPM is stopped as a machine stops it, with TPM2_Shutdown first: a TPM that loses power
# without it counts a dictionary-attack failure for the keys it used (the AK has no noDA), and
# after a few re-runs of this script it would lock them out.
tpm_tcti="swtpm:host=127.0.0.1,port=$tpm_port"
stop_both() {
  kill "$serve_pid" 2>/dev/null || true
  TPM2TOOLS_TCTI="$tpm_tcti" tpm2_shutdown >/dev/null 2>&1 || true
  kill "$swtpm_pid" 2>/dev/null || true
  wait "$serve_pid" "$swtpm_pid" 2>/dev/null || true
}
trap stop_both EXIT
# A state left locked out by an earlier version of this script (killed without TPM2_Shutdown):
# its lockout authorisation is swtpm's empty one.
for _ in $(seq 50); do TPM2TOOLS_TCTI="$tpm_tcti" tpm2_getrandom 1 >/dev/null 2>&1 && break; sleep 0.1; done
TPM2TOOLS_TCTI="$tpm_tcti" tpm2_dictionarylockout --clear-lockout >/dev/null 2>&1 || true
for _ in $(seq 100); do
  grep -q "^hwca serve: " "$state/serve.out" 2>/dev/null && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$state/serve.err" >&2; exit 1; }
  sleep 0.1
done
cat "$state/serve.out"
est_port=$(sed -n 's|.*https://127.0.0.1:\([0-9]*\)/.*|\1|p' "$state/serve.out")
export HWCA_TCTI="swtpm:host=127.0.0.1,port=$tpm_port"
ca_cert="$HWCA_HOME/cas/k8s-ca/cert.pem"
node_args=(--server "https://localhost:$est_port" --ca-cert "$ca_cert"
  --key "tpm2:file=$node_dir/kubelet.tpmkey")
# The operator trusts the TPM maker's EK roots (here swtpm_localca's root and intermediate,
# which signed the swtpm's EK certificates) and registers w1's TPM by its EK certificate, as
# 'hwca-node ek show' reads it on the node. No bootstrap token: the CA issues only for a key
# proven to live in that TPM.
localca="$node_dir/tpm-config/var/lib/swtpm-localca"
for root in "$localca/swtpm-localca-rootca-cert.pem" "$localca/issuercert.pem"; do
  sum=$(openssl x509 -in "$root" -outform DER | sha256sum | cut -d' ' -f1)
  "$hwca" ek-roots list | grep -q "$sum" || "$hwca" ek-roots add "$root"
done
"$build/bin/hwca-node" ek show --out "$node_dir/ek.pem" | sed '/-----BEGIN/,$d'
if ! "$hwca" node show w1 > /dev/null 2>&1; then  # registered by an earlier run: the same TPM
  "$hwca" node register --name w1 --ek-cert "$node_dir/ek.pem"
fi
"$build/bin/hwca-node" enroll "${node_args[@]}" --node-name w1 --attest \
  --cert-out "$node_dir/kubelet-client.pem"
openssl x509 -in "$node_dir/kubelet-client.pem" -noout -subject -enddate
serial=$(openssl x509 -in "$node_dir/kubelet-client.pem" -noout -serial | cut -d= -f2)
"$hwca" cert show "${serial,,}" | grep -i attest
say "Renewal over mutual TLS with the TPM key (--force: it is not due yet)"
"$build/bin/hwca-node" renew "${node_args[@]}" --cert "$node_dir/kubelet-client.pem" --force
say "What the kubelet's exec credential plugin gets: a 1-hour certificate, asked for with the TPM key"
"$build/bin/hwca-node" kubelet-credential "${node_args[@]}" --cert "$node_dir/kubelet-client.pem" |
  sed -n 's/.*"expirationTimestamp":"\([^"]*\)".*/  expires \1/p'
curl -sS --cacert "$ca_cert" "https://localhost:$est_port/metrics" | grep '^hwca_est_issued_total'
stop_both
trap - EXIT
echo "stopped the server and the TPM"

cat <<DONE

Done. What happened:
  - a SoftHSM2 token '$label' holds the EC P-256 keys of the cluster's three CAs (k8s-ca,
    etcd-ca, front-proxy-ca); they were generated inside the token and cannot be exported;
  - 'hwca k8s certs' wrote every node's certificates, keys and kubeconfigs to $out/<node>/,
    the tree that goes to that node's /etc/kubernetes/ (kubeadm's external-CA mode: no CA
    key is on any disk); each certificate was signed in the token, recorded and audited;
  - openssl verified the chains; re-running this script keeps every valid file;
  - w1's TPM was registered by its EK certificate (chained to the swtpm maker's roots);
    'hwca serve' issued w1's kubelet certificate by TPM attestation: the key was made inside
    that TPM ($node_dir/kubelet.tpmkey loads in it only) and proven so (credential
    activation with the registered EK, TPM2_Certify with the CA's nonce), no token needed;
    it renewed over mutual TLS with that key; the exec credential plugin got a 1-hour
    certificate.
Try:
  export SOFTHSM2_CONF=$SOFTHSM2_CONF HWCA_PKCS11_MODULE=$HWCA_PKCS11_MODULE HWCA_PIN_SOURCE=$HWCA_PIN_SOURCE HWCA_HOME=$HWCA_HOME
  $hwca k8s check-expiration --dir $out
  $hwca k8s renew --config $cluster_yaml --out $out apiserver     # no ca.key needed
  $hwca k8s kubeconfig --ca k8s-ca --user alice --group system:masters --server https://10.0.0.10:6443 --out $state/alice.conf
  $hwca cert list --expiring 400d
DONE
