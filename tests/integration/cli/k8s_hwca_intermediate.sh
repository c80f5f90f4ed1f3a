#!/usr/bin/env bash
# The cluster's CAs as intermediates under one offline root: leaf files carry the leaf and
# its intermediate; ca.crt files hold the role's intermediate alone, so that the roles stay
# apart. Proven with the stock openssl and with a real etcd (Go): a client certificate of
# the etcd intermediate is accepted, one of the kubernetes intermediate (same root) is not.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"
need etcd etcdctl kubectl

hwca_pin ca init --name offline-root --key "$(key_uri offline-root)" --generate ec-p384 \
  --subject "/CN=offline root" >/dev/null
for spec in k8s-ca:kubernetes etcd-ca:etcd-ca front-proxy-ca:front-proxy-ca; do
  hwca_pin ca init --name "${spec%%:*}" --key "$(key_uri "${spec%%:*}")" --generate ec-p256 \
    --subject "/CN=${spec#*:}" --san "DNS:${spec#*:}" --parent offline-root >/dev/null
done
k8s_cluster_yaml cluster.yaml cp1:control-plane:127.0.0.1 w1:worker:127.0.0.2
hwca_pin k8s certs --config cluster.yaml --out pki >/dev/null
root=$HWCA_HOME/cas/offline-root/cert.pem
d=pki/cp1/pki

count() { grep -c 'BEGIN CERTIFICATE' "$1"; }
# ca.crt files: the role's intermediate alone.
cmp -s $d/ca.crt "$HWCA_HOME/cas/k8s-ca/cert.pem" || fail "ca.crt is not the k8s intermediate alone"
cmp -s $d/etcd/ca.crt "$HWCA_HOME/cas/etcd-ca/cert.pem" || fail "etcd/ca.crt"
cmp -s $d/front-proxy-ca.crt "$HWCA_HOME/cas/front-proxy-ca/cert.pem" || fail "front-proxy-ca.crt"
# Leaf files: the leaf, then its intermediate (not the root).
for f in apiserver etcd/server front-proxy-client; do
  [[ $(count $d/$f.crt) == 2 ]] || fail "$f.crt holds $(count $d/$f.crt) certificates, not 2"
  # The second is the issuing intermediate, and the chain reaches the root.
  openssl verify -CAfile "$root" -untrusted $d/$f.crt $d/$f.crt >/dev/null || fail "$f does not chain to the root"
done
kubectl --kubeconfig pki/cp1/admin.conf config view --raw \
  -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d >admin.crt
[[ $(count admin.crt) == 2 ]] || fail "admin.conf's client certificate lacks its intermediate"
# Each role's ca.crt, taken as the only anchor, accepts its own leaves and no other role's.
openssl verify -partial_chain -CAfile $d/ca.crt $d/apiserver.crt >/dev/null || fail "partial chain k8s"
openssl verify -partial_chain -CAfile $d/etcd/ca.crt $d/etcd/server.crt >/dev/null || fail "partial chain etcd"
expect_ossl_fail "unable to get local issuer certificate" openssl verify -partial_chain -CAfile $d/ca.crt $d/etcd/server.crt
expect_ossl_fail "unable to get local issuer certificate" openssl verify -partial_chain -CAfile $d/etcd/ca.crt $d/apiserver-kubelet-client.crt

# etcd with the etcd intermediate as its only trusted CA (Go takes it as the anchor).
client=$(free_port) peer=$(free_port)
while [[ $peer == "$client" ]]; do peer=$(free_port); done
k8s_spawn etcd.log etcd --name cp1 --data-dir "$WORK/etcd" \
  --listen-client-urls "https://127.0.0.1:$client" --advertise-client-urls "https://127.0.0.1:$client" \
  --listen-peer-urls "https://127.0.0.1:$peer" --initial-advertise-peer-urls "https://127.0.0.1:$peer" \
  --initial-cluster "cp1=https://127.0.0.1:$peer" --initial-cluster-state new \
  --cert-file $d/etcd/server.crt --key-file $d/etcd/server.key --client-cert-auth \
  --trusted-ca-file $d/etcd/ca.crt --peer-cert-file $d/etcd/peer.crt --peer-key-file $d/etcd/peer.key \
  --peer-client-cert-auth --peer-trusted-ca-file $d/etcd/ca.crt
ctl() {
  ETCDCTL_API=3 timeout 30 etcdctl --endpoints "https://127.0.0.1:$client" --cacert $d/etcd/ca.crt \
    --dial-timeout 3s --command-timeout 5s "$@"
}
ok=0
for _ in $(seq 100); do
  if ctl --cert $d/apiserver-etcd-client.crt --key $d/apiserver-etcd-client.key endpoint health >/dev/null 2>&1; then
    ok=1
    break
  fi
  sleep 0.2
done
((ok)) || fail "etcd did not become healthy: $(tail -5 etcd.log)"
ctl --cert $d/apiserver-etcd-client.crt --key $d/apiserver-etcd-client.key put /hwca/chain intermediate >/dev/null
[[ $(ctl --cert $d/apiserver-etcd-client.crt --key $d/apiserver-etcd-client.key get /hwca/chain --print-value-only) == intermediate ]] ||
  fail "get through the etcd intermediate's client certificate"
# A sibling intermediate's client certificate (same root, kubernetes role): refused.
rc=0
err=$(ctl --cert $d/apiserver-kubelet-client.crt --key $d/apiserver-kubelet-client.key get /hwca/chain 2>&1) || rc=$?
((rc != 0)) || fail "etcd accepted a kubernetes-CA client certificate"
# etcdctl only sees its connection fail; etcd's log says why.
grep -q "rejected connection.*certificate signed by unknown authority" etcd.log ||
  fail "etcd's log does not show the certificate refused: $(tail -5 etcd.log)"
echo ok
