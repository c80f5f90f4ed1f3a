#!/usr/bin/env bash
# `hwca k8s certs`, `renew`, `kubeconfig` and `check-expiration`: the cluster PKI written
# from three CAs whose keys stay in the token, checked field by field with the stock openssl
# (and kubectl for reading kubeconfigs) against the table of
# ../shared/reference/kubernetes-pki.md; no CA key anywhere in the tree; leaf keys 0600;
# re-running keeps what is valid; renew and changed descriptions replace exactly what they
# should; the issuance database and the audit log account for every certificate.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"
need kubectl

# Help texts name every option.
out=$(hwca k8s --help)
for word in certs renew kubeconfig check-expiration; do assert_contains "$out" "$word" "hwca k8s --help"; done
out=$(hwca k8s certs --help)
for word in "--config FILE" "--out DIR" "--node NAME" "--threads N"; do
  assert_contains "$out" "$word" "hwca k8s certs --help"
done
out=$(hwca k8s kubeconfig --help)
for word in "--ca NAME" "--user NAME" "--group G" "--server URL" "--cluster NAME" "--key-type TYPE" \
  "--days N" "--out FILE" --force; do
  assert_contains "$out" "$word" "hwca k8s kubeconfig --help"
done

k8s_make_cas
cat >cluster.yaml <<'YAML'
apiVersion: hwca/v1
kind: Cluster
name: kubernetes
controlPlaneEndpoint: 10.0.0.10:6443
serviceSubnet: 10.96.0.0/12
dnsDomain: cluster.local
certSANs: [api.example.com]
cas: {kubernetes: k8s-ca, etcd: etcd-ca, frontProxy: front-proxy-ca}
leafKeyType: ec-p256
nodes:
- {name: cp1, role: control-plane, addresses: [10.0.0.11]}
- {name: cp2, role: control-plane, addresses: [10.0.0.12]}
- {name: w1, role: worker, addresses: [10.0.0.21]}
YAML
out=$(hwca_pin k8s certs --config cluster.yaml --out pki)
assert_contains "$out" "wrote 3 node trees under pki" "k8s certs"
assert_contains "$out" "generated a new service-account key" "k8s certs"

# --- The layout: exactly kubeadm's files, no CA key.
expected_cp="admin.conf controller-manager.conf kubelet.conf pki/apiserver-etcd-client.crt
pki/apiserver-etcd-client.key pki/apiserver-kubelet-client.crt pki/apiserver-kubelet-client.key
pki/apiserver.crt pki/apiserver.key pki/ca.crt pki/etcd/ca.crt pki/etcd/healthcheck-client.crt
pki/etcd/healthcheck-client.key pki/etcd/peer.crt pki/etcd/peer.key pki/etcd/server.crt
pki/etcd/server.key pki/front-proxy-ca.crt pki/front-proxy-client.crt pki/front-proxy-client.key
pki/sa.key pki/sa.pub scheduler.conf super-admin.conf"
files_of() { (cd "pki/$1" && find . -type f | sed 's|^\./||' | sort | tr '\n' ' '); }
for node in cp1 cp2; do
  # shellcheck disable=SC2086 # word splitting normalises the spacing
  [[ $(echo $(files_of $node)) == "$(echo $expected_cp)" ]] ||
    fail "$node holds: $(files_of $node)"
done
[[ $(files_of w1) == "kubelet.conf pki/ca.crt " ]] || fail "w1 holds: $(files_of w1)"
[[ ! -e pki/cp1/pki/ca.key && ! -e pki/cp1/pki/etcd/ca.key && ! -e pki/cp1/pki/front-proxy-ca.key ]] ||
  fail "a CA key was written"
[[ $(stat -c %a pki) == 700 ]] || fail "the output folder is not 0700"
for f in $(cd pki && find . -name '*.key' -o -name '*.conf'); do
  [[ $(stat -c %a "pki/$f") == 600 ]] || fail "$f is mode $(stat -c %a "pki/$f"), not 0600"
done
for f in $(cd pki && find . -name '*.crt' -o -name '*.pub'); do
  [[ $(stat -c %a "pki/$f") == 644 ]] || fail "$f is mode $(stat -c %a "pki/$f"), not 0644"
done

# The CA files are the home's CA certificates, byte for byte.
for node in cp1 cp2 w1; do
  cmp -s "pki/$node/pki/ca.crt" "$HWCA_HOME/cas/k8s-ca/cert.pem" || fail "$node: ca.crt"
done
cmp -s pki/cp1/pki/etcd/ca.crt "$HWCA_HOME/cas/etcd-ca/cert.pem" || fail "etcd/ca.crt"
cmp -s pki/cp1/pki/front-proxy-ca.crt "$HWCA_HOME/cas/front-proxy-ca/cert.pem" || fail "front-proxy-ca.crt"
# The CAs as kubeadm makes them: CN and SAN DNS:<CN>, CA:TRUE, keyCertSign.
for spec in k8s-ca:kubernetes etcd-ca:etcd-ca front-proxy-ca:front-proxy-ca; do
  f=$HWCA_HOME/cas/${spec%%:*}/cert.pem cn=${spec#*:}
  [[ $(openssl x509 -in "$f" -noout -subject -nameopt RFC2253) == "subject=CN=$cn" ]] || fail "$f subject"
  assert_contains "$(openssl x509 -in "$f" -noout -ext subjectAltName)" "DNS:$cn" "$f SAN"
  assert_contains "$(openssl x509 -in "$f" -noout -ext basicConstraints)" "CA:TRUE" "$f"
  assert_contains "$(openssl x509 -in "$f" -noout -ext keyUsage)" "Certificate Sign" "$f"
done

# cert_of FILE: the certificate a .crt or a kubeconfig holds (kubeconfigs read by kubectl).
cert_of() {
  case $1 in
    *.conf) kubectl --kubeconfig "$1" config view --raw -o jsonpath='{.users[0].user.client-certificate-data}' | base64 -d ;;
    *) cat "$1" ;;
  esac
}
key_of() {
  case $1 in
    *.conf) kubectl --kubeconfig "$1" config view --raw -o jsonpath='{.users[0].user.client-key-data}' | base64 -d ;;
    *) cat "${1%.crt}.key" ;;
  esac
}
# ext TEXT-OF-X509 NAME: the value lines of one extension as one line.
ext() { openssl x509 -noout -ext "$2" <<<"$1" 2>/dev/null | sed 1d | sed 's/^ *//' | paste -sd' '; }

# check FILE CA-FILE SUBJECT(RFC2253) EKU SANS: every field the reference fixes.
checked=0
check() {
  local file=$1 cafile=$2 subject=$3 eku=$4 sans=$5 pem text nb na
  pem=$(cert_of "$file")
  [[ -n $pem ]] || fail "$file holds no certificate"
  text=$(openssl x509 -noout -text <<<"$pem")
  [[ $(openssl x509 -noout -subject -nameopt RFC2253 <<<"$pem") == "subject=$subject" ]] ||
    fail "$file: subject $(openssl x509 -noout -subject -nameopt RFC2253 <<<"$pem"), want $subject"
  [[ $(ext "$pem" extendedKeyUsage) == "$eku" ]] || fail "$file: EKU '$(ext "$pem" extendedKeyUsage)', want '$eku'"
  [[ $(ext "$pem" subjectAltName) == "$sans" ]] || fail "$file: SANs '$(ext "$pem" subjectAltName)', want '$sans'"
  # An ECDSA leaf: digitalSignature alone (the reference: keyEncipherment is for RSA).
  [[ $(ext "$pem" keyUsage) == "Digital Signature" ]] || fail "$file: keyUsage '$(ext "$pem" keyUsage)'"
  assert_contains "$(openssl x509 -noout -ext keyUsage <<<"$pem")" critical "$file keyUsage"
  [[ $(ext "$pem" basicConstraints) == "CA:FALSE" ]] || fail "$file: basicConstraints '$(ext "$pem" basicConstraints)'"
  assert_contains "$text" "ASN1 OID: prime256v1" "$file key"
  openssl verify -CAfile "$cafile" <(echo "$pem") >/dev/null || fail "$file does not verify with $cafile"
  # 365 days from five minutes ago (kubeadm's backdating), a positive serial of <= 20 octets.
  nb=$(date -d "$(openssl x509 -noout -startdate <<<"$pem" | cut -d= -f2)" +%s)
  na=$(date -d "$(openssl x509 -noout -enddate <<<"$pem" | cut -d= -f2)" +%s)
  (( na - nb == 365 * 86400 + 300 )) || fail "$file: validity $((na - nb)) s"
  (( $(date +%s) - nb >= 300 && $(date +%s) - nb < 900 )) || fail "$file: notBefore $nb"
  local serial
  serial=$(openssl x509 -noout -serial <<<"$pem" | cut -d= -f2)
  (( ${#serial} <= 40 )) && [[ ${serial:0:1} =~ [0-7] || ${#serial} -lt 40 ]] || fail "$file: serial $serial"
  # The key is the certificate's.
  [[ $(key_of "$file" | openssl pkey -pubout | pub_digest) == $(openssl x509 -pubkey -noout <<<"$pem" | pub_digest) ]] ||
    fail "$file: key does not match"
  checked=$((checked + 1))
}
for node in cp1 cp2; do
  ip=10.0.0.1${node#cp}
  d=pki/$node
  check $d/pki/apiserver.crt $d/pki/ca.crt "CN=kube-apiserver" "TLS Web Server Authentication" \
    "DNS:$node, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP Address:10.96.0.1, IP Address:$ip, IP Address:10.0.0.10, DNS:api.example.com"
  check $d/pki/apiserver-kubelet-client.crt $d/pki/ca.crt \
    "CN=kube-apiserver-kubelet-client,O=kubeadm:cluster-admins" "TLS Web Client Authentication" ""
  check $d/pki/apiserver-etcd-client.crt $d/pki/etcd/ca.crt "CN=kube-apiserver-etcd-client" \
    "TLS Web Client Authentication" ""
  check $d/pki/front-proxy-client.crt $d/pki/front-proxy-ca.crt "CN=front-proxy-client" \
    "TLS Web Client Authentication" ""
  for which in server peer; do
    check $d/pki/etcd/$which.crt $d/pki/etcd/ca.crt "CN=$node" \
      "TLS Web Server Authentication, TLS Web Client Authentication" \
      "DNS:$node, DNS:localhost, IP Address:$ip, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"
  done
  check $d/pki/etcd/healthcheck-client.crt $d/pki/etcd/ca.crt "CN=kube-etcd-healthcheck-client" \
    "TLS Web Client Authentication" ""
  check $d/admin.conf $d/pki/ca.crt "CN=kubernetes-admin,O=kubeadm:cluster-admins" "TLS Web Client Authentication" ""
  check $d/super-admin.conf $d/pki/ca.crt "CN=kubernetes-super-admin,O=system:masters" "TLS Web Client Authentication" ""
  check $d/controller-manager.conf $d/pki/ca.crt "CN=system:kube-controller-manager" "TLS Web Client Authentication" ""
  check $d/scheduler.conf $d/pki/ca.crt "CN=system:kube-scheduler" "TLS Web Client Authentication" ""
  check $d/kubelet.conf $d/pki/ca.crt "CN=system:node:$node,O=system:nodes" "TLS Web Client Authentication" ""
  # Kubeconfig fields: server, cluster, context, CA data.
  for conf in admin super-admin kubelet controller-manager scheduler; do
    f=$d/$conf.conf
    # One kubectl call: server, cluster name, current context, CA data.
    mapfile -t fields < <(kubectl --kubeconfig $f config view --raw -o jsonpath='{.clusters[0].cluster.server}{"\n"}{.clusters[0].name}{"\n"}{.current-context}{"\n"}{.clusters[0].cluster.certificate-authority-data}{"\n"}')
    case $conf in
      controller-manager | scheduler) want=https://$ip:6443 ;;
      *) want=https://10.0.0.10:6443 ;;
    esac
    [[ ${fields[0]} == "$want" ]] || fail "$f: server ${fields[0]}, want $want"
    [[ ${fields[1]} == kubernetes ]] || fail "$f: cluster ${fields[1]}"
    user=$(openssl x509 -noout -subject -nameopt RFC2253 <<<"$(cert_of $f)" | sed 's/^subject=CN=//; s/,O=.*//')
    [[ ${fields[2]} == "$user@kubernetes" ]] || fail "$f: context ${fields[2]}"
    base64 -d <<<"${fields[3]}" | cmp -s - $d/pki/ca.crt || fail "$f: certificate-authority-data is not ca.crt"
  done
done
check pki/w1/kubelet.conf pki/w1/pki/ca.crt "CN=system:node:w1,O=system:nodes" "TLS Web Client Authentication" ""
(( checked == 25 )) || fail "checked $checked certificates, expected 25"

# The service-account pair: one RSA key shared by the control planes; sa.pub is its half.
cmp -s pki/cp1/pki/sa.key pki/cp2/pki/sa.key || fail "sa.key differs between control planes"
[[ $(openssl pkey -in pki/cp1/pki/sa.key -pubout | pub_digest) == $(pub_digest <pki/cp1/pki/sa.pub) ]] ||
  fail "sa.pub is not sa.key's public half"
assert_contains "$(openssl pkey -in pki/cp1/pki/sa.key -noout -text)" "Private-Key: (2048 bit" "sa.key"

# Every certificate is in the issuance database and the audit log (25 leaves + 3 CAs).
[[ $(hwca cert list | grep -c '^[0-9a-f]\{40\}') == 28 ]] || fail "the database lists $(hwca cert list | grep -c '^[0-9a-f]\{40\}') certificates"
hwca audit verify >/dev/null

# --- Re-running changes nothing (and needs no PIN: no key is used).
sum_tree() { (cd pki && find . -type f ! -name .hwca.lock -print0 | sort -z | xargs -0 sha256sum); }
# changed_since SUMS: the files whose content differs from SUMS (or are new), on one line.
changed_since() {
  local d
  d=$(diff <(echo "$1") <(sum_tree)) || (($? == 1)) || fail "diff failed"
  grep '^>' <<<"$d" | awk '{print $3}' | sort | tr '\n' ' '
}
before=$(sum_tree)
out=$(hwca k8s certs --config cluster.yaml --out pki)
assert_contains "$out" "nothing to change in pki" "second run"
[[ $(sum_tree) == "$before" ]] || fail "a second run changed the tree"

# --- renew NAME: that certificate (and its key) on every node, nothing else.
out=$(hwca_pin k8s renew --config cluster.yaml --out pki apiserver)
assert_contains "$out" "wrote 2 node trees" "renew apiserver"
changed=$(changed_since "$before")
[[ $changed == "./cp1/pki/apiserver.crt ./cp1/pki/apiserver.key ./cp2/pki/apiserver.crt ./cp2/pki/apiserver.key " ]] ||
  fail "renew apiserver changed: $changed"
check pki/cp1/pki/apiserver.crt pki/cp1/pki/ca.crt "CN=kube-apiserver" "TLS Web Server Authentication" \
  "DNS:cp1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local, IP Address:10.96.0.1, IP Address:10.0.0.11, IP Address:10.0.0.10, DNS:api.example.com"
before=$(sum_tree)
out=$(hwca_pin k8s renew --config cluster.yaml --out pki --node w1)
changed=$(changed_since "$before")
[[ $changed == "./w1/kubelet.conf " ]] || fail "renew --node w1 changed: $changed"
expect_fail 2 "unknown certificate 'apiservr'" hwca_pin k8s renew --config cluster.yaml --out pki apiservr

# --- A changed description replaces exactly what depends on it.
sed -i 's/certSANs: \[api.example.com\]/certSANs: [api.example.com, 10.0.0.99]/' cluster.yaml
before=$(sum_tree)
out=$(hwca_pin k8s certs --config cluster.yaml --out pki)
assert_contains "$out" "replaced, its SANs differ: cp1/apiserver, cp2/apiserver" "certSANs change"
changed=$(changed_since "$before")
[[ $changed == "./cp1/pki/apiserver.crt ./cp1/pki/apiserver.key ./cp2/pki/apiserver.crt ./cp2/pki/apiserver.key " ]] ||
  fail "a new certSAN changed: $changed"
assert_contains "$(openssl x509 -in pki/cp1/pki/apiserver.crt -noout -ext subjectAltName)" "IP Address:10.0.0.99" "new SAN"
sed -i 's/controlPlaneEndpoint: 10.0.0.10:6443/controlPlaneEndpoint: 10.0.0.10:7443/' cluster.yaml
before=$(sum_tree)
out=$(hwca k8s certs --config cluster.yaml --out pki)  # kubeconfigs rewritten, no certificate: no PIN
changed=$(changed_since "$before")
[[ $changed == "./cp1/admin.conf ./cp1/kubelet.conf ./cp1/super-admin.conf ./cp2/admin.conf ./cp2/kubelet.conf ./cp2/super-admin.conf ./w1/kubelet.conf " ]] ||
  fail "a new endpoint port changed: $changed"
[[ $(kubectl --kubeconfig pki/w1/kubelet.conf config view -o jsonpath='{.clusters[0].cluster.server}') == https://10.0.0.10:7443 ]] ||
  fail "kubelet.conf server not updated"
sed -i 's/leafKeyType: ec-p256/leafKeyType: rsa-2048/' cluster.yaml
out=$(hwca_pin k8s certs --config cluster.yaml --out pki)
assert_contains "$out" "replaced, its key is not rsa-2048: cp1/apiserver, cp1/apiserver-kubelet-client, cp1/apiserver-etcd-client, cp1/front-proxy-client, cp1/etcd-server and 20 more" "leafKeyType change"
for f in pki/cp1/pki/apiserver.crt pki/cp2/pki/etcd/peer.crt pki/w1/kubelet.conf; do
  assert_contains "$(cert_of $f | openssl x509 -noout -text)" "Public-Key: (2048 bit)" "$f"
  # RSA leaves: digitalSignature and keyEncipherment, as kubeadm.
  [[ $(ext "$(cert_of $f)" keyUsage) == "Digital Signature, Key Encipherment" ]] || fail "$f RSA keyUsage"
done
cmp -s pki/cp1/pki/sa.key pki/cp2/pki/sa.key || fail "sa.key changed"

# --- check-expiration: the table and JSON agree with openssl.
out=$(hwca k8s check-expiration --dir pki)
assert_contains "$out" "CERTIFICATE AUTHORITY" "check-expiration"
[[ $(grep -c '^cp1 ' <<<"$out") == 15 && $(grep -c '^w1 ' <<<"$out") == 2 ]] ||
  fail "check-expiration rows: $out"
json=$(hwca k8s check-expiration --dir pki --output json)
end=$(date -u -d "$(openssl x509 -in pki/cp2/pki/etcd/server.crt -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
[[ $(jq -r '.items[] | select(.node == "cp2") | .certificates[] | select(.name == "etcd-server") | .expirationDate' <<<"$json") == "$end" ]] ||
  fail "check-expiration json: cp2 etcd-server"
[[ $(jq '[.items[].certificates[]] | length' <<<"$json") == 25 ]] || fail "json certificate count"
out=$(hwca k8s check-expiration --dir pki --node w1)
[[ $(grep -c '^cp' <<<"$out" || true) == 0 ]] || fail "--node w1 listed other nodes"

# --- One user's kubeconfig.
out=$(hwca_pin k8s kubeconfig --ca k8s-ca --user alice --group system:masters --group dev \
  --server https://[fd00::10]:6443 --cluster prod --out alice.conf)
assert_contains "$out" "wrote alice.conf for user alice in system:masters, dev" "kubeconfig"
[[ $(stat -c %a alice.conf) == 600 ]] || fail "alice.conf mode"
# RFC 2253 prints the RDNs last first: the certificate holds O=system:masters, O=dev, CN=alice.
check alice.conf "$HWCA_HOME/cas/k8s-ca/cert.pem" "CN=alice,O=dev,O=system:masters" "TLS Web Client Authentication" ""
[[ $(kubectl --kubeconfig alice.conf config current-context) == alice@prod ]] || fail "alice context"
[[ $(kubectl --kubeconfig alice.conf config view -o jsonpath='{.clusters[0].cluster.server}') == "https://[fd00::10]:6443" ]] ||
  fail "alice server"
expect_fail 6 "alice.conf exists; --force replaces it" hwca_pin k8s kubeconfig --ca k8s-ca --user alice \
  --server https://10.0.0.10:6443 --out alice.conf
hwca_pin k8s kubeconfig --ca k8s-ca --user alice --server https://10.0.0.10:6443 --out alice.conf \
  --force --days 30 --key-type rsa-3072 >/dev/null
assert_contains "$(cert_of alice.conf | openssl x509 -noout -text)" "Public-Key: (3072 bit)" "alice rsa-3072"
na=$(date -d "$(cert_of alice.conf | openssl x509 -noout -enddate | cut -d= -f2)" +%s)
(( na - $(date +%s) <= 30 * 86400 && na - $(date +%s) > 29 * 86400 )) || fail "--days 30"
hwca audit verify >/dev/null
echo ok
