#!/usr/bin/env bash
# -o json|yaml on `hwca k8s certs`, `renew`, `kubeconfig` and `check-expiration`, whose
# documents are kubeadm's CertificateExpirationInfo (output.kubeadm.k8s.io/v1alpha3): one for
# a node's own tree, a List of them (each with its node) for a folder of trees, every date
# checked against openssl's reading of the file. A folder with nothing to check is an error.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=k8s_lib.sh
source "$(dirname "$0")/k8s_lib.sh"

k8s_make_cas
k8s_cluster_yaml cluster.yaml cp1:control-plane:10.0.0.10 w1:worker:10.0.0.21

# --- certs / renew ---------------------------------------------------------------------------
doc=$(hwca_pin k8s certs --config cluster.yaml --out pki -o json)
[[ $(jq -r '[.out, .nodesWritten, (.certificates | map(.outcome) | unique | join(","))] | join(" ")' <<<"$doc") == \
  "pki 2 issued" ]] || fail "k8s certs -o json: $doc"
end=$(date -u -d "$(openssl x509 -in pki/cp1/pki/apiserver.crt -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
[[ $(jq -r '.certificates[] | select(.node == "cp1" and .name == "apiserver") | [.ca, .notAfter] | join(" ")' <<<"$doc") == \
  "k8s-ca $end" ]] || fail "k8s certs -o json, cp1 apiserver: $doc"
doc=$(hwca_pin k8s renew apiserver --config cluster.yaml --out pki --node cp1 -o yaml | yaml_to_json)
[[ $(jq -r '.certificates[] | select(.outcome == "renewed") | [.node, .name] | join(" ")' <<<"$doc") == "cp1 apiserver" ]] ||
  fail "k8s renew -o yaml: $doc"
doc=$(hwca k8s certs --config cluster.yaml --out pki -o json)  # nothing to sign: no PIN
[[ $(jq -r '[.nodesWritten, (.certificates | map(.outcome) | unique | join(","))] | join(" ")' <<<"$doc") == "0 kept" ]] ||
  fail "k8s certs -o json, a re-run: $doc"

# --- kubeconfig: the document names the certificate inside the file ------------------------
doc=$(hwca_pin k8s kubeconfig --ca k8s-ca --user alice --group dev --server https://10.0.0.10:6443 \
  --out alice.conf -o json)
python3 -c 'import base64, sys, yaml; c = yaml.safe_load(open(sys.argv[1])); sys.stdout.write(base64.b64decode(c["users"][0]["user"]["client-certificate-data"]).decode())' \
  alice.conf >alice.pem
serial=$(openssl x509 -in alice.pem -noout -serial | cut -d= -f2)
end=$(date -u -d "$(openssl x509 -in alice.pem -noout -enddate | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ)
[[ $(jq -r '[.file, .user, (.groups | join(",")), .serial, .notAfter] | join(" ")' <<<"$doc") == \
  "alice.conf alice dev ${serial,,} $end" ]] || fail "k8s kubeconfig -o json: $doc"
! grep -q 'PRIVATE KEY\|client-key-data' <<<"$doc" || fail "k8s kubeconfig -o json shows the key"

# --- check-expiration -------------------------------------------------------------------------
# check_info JSON TREE RAN_AT: a CertificateExpirationInfo made by a command started at unix
# time RAN_AT, field by field against openssl.
check_info() {
  local info=$1 tree=$2 ran_at=$3 now name file want residual
  now=$(date +%s)
  [[ $(jq -r '[.apiVersion, .kind] | join(" ")' <<<"$info") == "output.kubeadm.k8s.io/v1alpha3 CertificateExpirationInfo" ]] ||
    fail "not a CertificateExpirationInfo: $info"
  while IFS=$'\t' read -r name file; do
    [[ -e $tree/$file ]] || continue
    want=$(date -u -d "$(openssl x509 -in "$tree/$file" -noout -enddate | cut -d= -f2)" +%s)
    entry=$(jq -c --arg n "$name" '(.certificates + .certificateAuthorities)[] | select(.name == $n)' <<<"$info")
    [[ -n $entry ]] || fail "$tree: $name is missing from $info"
    [[ $(date -u -d "$(jq -r .expirationDate <<<"$entry")" +%s) == "$want" ]] || fail "$tree $name: $entry"
    residual=$(jq -r .residualTime <<<"$entry")
    # Made between RAN_AT and now: between want - now and want - RAN_AT seconds were left.
    ((residual <= want - ran_at + 2 && residual >= want - now - 2)) ||
      fail "$tree $name: residualTime $residual, openssl says $((want - now)) to $((want - ran_at)) s were left"
    [[ $(jq -r '[.externallyManaged, .missing] | join(" ")' <<<"$entry") == "true false" ]] ||
      fail "$tree $name (no CA key in the tree: externally managed): $entry"
  done < <(printf '%s\t%s\n' ca pki/ca.crt etcd-ca pki/etcd/ca.crt front-proxy-ca pki/front-proxy-ca.crt \
    apiserver pki/apiserver.crt etcd-server pki/etcd/server.crt front-proxy-client pki/front-proxy-client.crt)
  [[ $(jq -r '.certificateAuthorities | map(has("caName")) | any' <<<"$info") == false ]] ||
    fail "a CA has a caName: $info"
}
# One node's own tree (its /etc/kubernetes): kubeadm's document itself.
ran_at=$(date +%s)
doc=$(same_doc hwca k8s check-expiration --dir pki/cp1)
check_info "$doc" pki/cp1 "$ran_at"
[[ $(jq -r '[has("node"), (.certificates | length), (.certificateAuthorities | length)] | join(" ")' <<<"$doc") == "false 12 3" ]] ||
  fail "check-expiration of one tree: $doc"
[[ $(jq -r '.certificates[] | select(.name == "apiserver-etcd-client") | .caName' <<<"$doc") == etcd-ca ]] ||
  fail "check-expiration caName: $doc"
out=$(hwca k8s check-expiration --dir pki/cp1)
[[ $(head -n 1 <<<"$out") == "CERTIFICATE"*"EXPIRES"*"RESIDUAL TIME"*"CERTIFICATE AUTHORITY" ]] ||
  fail "check-expiration of one tree, text: $out"
[[ $(grep -c '^apiserver ' <<<"$out") == 1 ]] || fail "check-expiration of one tree, text rows: $out"
# A folder of trees: a List, one document a node.
ran_at=$(date +%s)
doc=$(same_doc hwca k8s check-expiration --dir pki)
[[ $(jq -r '[.apiVersion, .kind, (.items | map(.node) | join(","))] | join(" ")' <<<"$doc") == "v1 List cp1,w1" ]] ||
  fail "check-expiration of a folder: $doc"
check_info "$(jq '.items[0] | del(.node)' <<<"$doc")" pki/cp1 "$ran_at"
check_info "$(jq '.items[1] | del(.node)' <<<"$doc")" pki/w1 "$ran_at"
# --output table, the old spelling of text, stays.
[[ $(hwca k8s check-expiration --dir pki --output table) == "$(hwca k8s check-expiration --dir pki)" ]] ||
  fail "--output table differs from the text"
# Nothing to check is an error, not an empty table.
mkdir -p empty unrelated/sub
echo hello >unrelated/sub/notes.txt
expect_fail 3 "no Kubernetes certificates in empty" hwca k8s check-expiration --dir empty -o json
[[ ! -s $WORK/.fail.out ]] || fail "check-expiration of an empty folder printed: $(cat "$WORK/.fail.out")"
expect_fail 3 "no Kubernetes certificates in unrelated" hwca k8s check-expiration --dir unrelated
expect_fail 2 "--node applies to a folder of node trees" hwca k8s check-expiration --dir pki/cp1 --node cp1
# An unreadable file: the whole document, "missing", and exit 7.
cp -r pki/w1 broken
echo junk >broken/kubelet.conf
expect_fail 7 "1 file could not be read" hwca k8s check-expiration --dir broken -o json
[[ $(jq -r '.certificates[] | select(.name == "kubelet.conf") | [.missing, .expirationDate] | join(" ")' "$WORK/.fail.out") == "true " ]] ||
  fail "check-expiration of an unreadable file: $(cat "$WORK/.fail.out")"
echo ok
