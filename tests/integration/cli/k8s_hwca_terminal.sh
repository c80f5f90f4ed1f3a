#!/usr/bin/env bash
# What a person at a terminal sees from the Kubernetes commands:
#  1. a run of fewer than 50 certificates that takes long (rsa-4096 keys) shows its
#     progress on the terminal (a pty made by script(1)), and a run whose stderr is not a
#     terminal shows none;
#  2. `hwca k8s kubeconfig --out -` writes the kubeconfig on standard output (no file named
#     "-"), and what it did on standard error.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"
need script

k8s_make_cas
K8S_LEAF=rsa-4096 k8s_cluster_yaml "$WORK/cluster.yaml" cp1:control-plane:10.0.0.11

# --- 1. progress below 50 items --------------------------------------------------------------
# One thread, twelve rsa-4096 keys: the keys stage takes seconds.
HWCA_PIN_SOURCE=file:$PIN_FILE script -qec "'$HWCA_BIN' k8s certs --config '$WORK/cluster.yaml' \
  --out '$WORK/tty' --threads 1" /dev/null >"$WORK/tty.log" 2>&1 || fail "k8s certs on a terminal: $(cat -v "$WORK/tty.log")"
grep -Eq $'\rhwca: keys [0-9]+/12 ' "$WORK/tty.log" ||
  fail "no progress line on the terminal: $(cat -v "$WORK/tty.log")"
[[ -s $WORK/tty/cp1/pki/apiserver.crt ]] || fail "the terminal run wrote no tree"
hwca_pin k8s renew --config "$WORK/cluster.yaml" --out "$WORK/tty" --threads 1 apiserver \
  >"$WORK/plain.out" 2>"$WORK/plain.err" || fail "k8s renew: $(cat "$WORK/plain.err")"
! grep -q 'keys [0-9]' "$WORK/plain.err" || fail "progress on a stderr that is not a terminal"

# --- 2. a kubeconfig on standard output ------------------------------------------------------
cd "$WORK"
hwca_pin k8s kubeconfig --ca k8s-ca --user alice --group dev --server https://10.0.0.10:6443 \
  --out - >"$WORK/alice.kubeconfig" 2>"$WORK/alice.err" || fail "kubeconfig --out -: $(cat "$WORK/alice.err")"
[[ ! -e $WORK/- ]] || fail "kubeconfig --out - wrote a file named '-'"
assert_contains "$(cat "$WORK/alice.err")" "wrote the kubeconfig to standard output for user alice in dev" \
  "kubeconfig --out -'s stderr"
grep -q '^current-context: alice@kubernetes$' "$WORK/alice.kubeconfig" ||
  fail "standard output is not the kubeconfig: $(head -c 300 "$WORK/alice.kubeconfig")"
sed -n 's/^ *client-certificate-data: "\(.*\)"$/\1/p' "$WORK/alice.kubeconfig" | base64 -d >"$WORK/alice.crt"
subject=$(openssl x509 -in "$WORK/alice.crt" -noout -subject -nameopt RFC2253)
[[ $subject == "subject=CN=alice,O=dev" ]] || fail "the kubeconfig's certificate: $subject"
openssl verify -CAfile "$HWCA_HOME/cas/k8s-ca/cert.pem" "$WORK/alice.crt" >/dev/null ||
  fail "the kubeconfig's certificate does not chain to k8s-ca"
echo "ok: progress on a terminal below 50 items, none elsewhere; a kubeconfig on standard output"
