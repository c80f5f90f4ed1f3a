#!/usr/bin/env bash
# Bad input and faults for `hwca k8s`: each is one line naming the cause, the right exit
# code, and no partial tree that looks complete: invalid descriptions, a missing CA, an
# output folder that cannot be written, a wrong PIN, a run killed at random moments (the
# next run finishes or discards it), damaged files in the tree, service-account keys that
# disagree, and the subcommands' own usage mistakes.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"
need chattr

k8s_make_cas
k8s_cluster_yaml good.yaml cp1:control-plane:10.0.0.11 w1:worker:10.0.0.21
count_certs() { hwca cert list | grep -c '^[0-9a-f]\{40\}' || true; }
certs_before=$(count_certs)

# --- The description: each mistake names the file and the field; nothing is written.
# bad NAME SED-EXPRESSION TEXT: good.yaml edited by SED-EXPRESSION is refused with TEXT.
bad() {
  sed "$2" good.yaml >"$1.yaml"
  expect_fail 2 "$3" hwca_pin k8s certs --config "$1.yaml" --out "out-$1"
  [[ ! -e out-$1 ]] || fail "$1: the output folder was created"
  assert_contains "$LAST_ERR" "$1.yaml" "$1: the error names the file"
}
bad yaml 's/^nodes:/nodes: [/' "line"
bad unknown 's/^name: kubernetes/name: kubernetes\nbogus: 1/' "unknown field 'bogus'"
bad nodefield 's/role: worker,/role: worker, taints: x,/' "unknown field 'taints'"
bad duplicate 's/name: w1/name: cp1/' "node 'cp1' is listed twice"
bad badip 's/10.0.0.21/10.0.0.256/' "'10.0.0.256' is not an IP address"
bad badname 's/name: w1/name: W_1/' "not a node name"
bad badsan 's/^leafKeyType/certSANs: [bad_name.example]\nleafKeyType/' "neither a DNS name nor an IP"
bad badendpoint 's/^controlPlaneEndpoint: .*/controlPlaneEndpoint: 10.0.0.10:99999/' "port '99999' is not 1-65535"
bad smallsubnet 's/^leafKeyType/serviceSubnet: 10.96.0.0\/30\nleafKeyType/' "too small"
bad badsubnet 's/^leafKeyType/serviceSubnet: 10.96.0.0\nleafKeyType/' "not a subnet"
bad keytype 's/^leafKeyType: .*/leafKeyType: ed25519/' "leafKeyType"
bad noversion '/^apiVersion/d' "needs apiVersion: hwca/v1"
bad nocp 's/role: control-plane/role: worker/' "at least one control-plane"
bad cpnoaddr 's/addresses: \[10.0.0.11\]/addresses: []/' "needs an address"
expect_fail 3 "cannot read nosuch.yaml" hwca_pin k8s certs --config nosuch.yaml --out out
# A CA the home does not have.
sed 's/etcd: etcd-ca/etcd: etcd-nope/' good.yaml >missing-ca.yaml
expect_fail 3 "cas.etcd: no CA named 'etcd-nope'" hwca_pin k8s certs --config missing-ca.yaml --out out-missing
[[ ! -e out-missing ]] || fail "missing CA: the output folder was created"
[[ $(count_certs) == "$certs_before" ]] || fail "bad descriptions issued certificates"

# --- Output folders that cannot be written: refused before the token signs anything.
echo x >afile
expect_fail 2 "afile is not a folder" hwca_pin k8s certs --config good.yaml --out afile
mkdir locked
chattr +i locked
expect_fail 7 "cannot write to the output folder locked" hwca_pin k8s certs --config good.yaml --out locked
chattr -i locked
[[ -z $(ls -A locked) ]] || fail "something was written into the locked folder"
expect_fail 7 "cannot create the output folder" hwca_pin k8s certs --config good.yaml --out afile/sub
[[ $(count_certs) == "$certs_before" ]] || fail "an unwritable folder still got certificates issued"

# --- A wrong PIN: exit 4, nothing issued, no tree.
echo "$WRONG_PIN" >wrong.pin
expect_fail 4 "PIN" hwca --pin-source file:wrong.pin k8s certs --config good.yaml --out out-pin
[[ -z $(ls out-pin 2>/dev/null | grep -v '^\.') ]] || fail "a wrong PIN left node trees: $(ls out-pin)"

# --- Runs killed at random moments (SIGKILL): every node tree that exists is complete,
# and the next run finishes or discards the interrupted one.
nodes=(cp1:control-plane:10.0.0.11 cp2:control-plane:10.0.0.12)
for i in $(seq 1 60); do nodes+=("w$i:worker:10.0.1.$i"); done
k8s_cluster_yaml big.yaml "${nodes[@]}"
complete() {  # complete DIR: each node folder holds all its files
  local d node n
  for d in "$1"/*/; do
    [[ -d $d ]] || continue  # no node folder yet: the glob stays unexpanded
    node=$(basename "$d")
    n=$(find "$d" -type f | wc -l)
    case $node in
      cp*) ((n == 24)) || fail "kill test: $node holds $n files, not 24" ;;
      *) ((n == 2)) || fail "kill test: $node holds $n files, not 2" ;;
    esac
  done
}
for round in 1 2 3 4 5 6; do
  rm -rf big
  "$HWCA_BIN" --pin-source "file:$PIN_FILE" k8s certs --config big.yaml --out big >/dev/null 2>&1 &
  pid=$!
  sleep "0.$((RANDOM % 9 + 1))"
  kill -9 "$pid" 2>/dev/null || true  # it may have finished: both cases are checked
  wait "$pid" 2>/dev/null || true
  [[ -d big ]] && complete big
  out=$(hwca_pin k8s certs --config big.yaml --out big)
  complete big
  [[ $(find big -mindepth 1 -maxdepth 1 -type d ! -name '.*' | wc -l) == 62 ]] || fail "round $round: not 62 trees"
  [[ ! -e big/.hwca-staging ]] || fail "round $round: staging left behind"
done
# A kill between a certificate's database record and its audit line leaves it recorded and
# unaudited: it was never handed out, and `hwca audit verify` names it (exit 6) with the
# remedy, to revoke it. Each one it names must be in no node tree; once revoked as it says,
# the database and the log agree.
rc=0
hwca audit verify >verify.out || rc=$?
if ((rc != 0)); then
  ((rc == 6)) || fail "audit verify after the kills exited $rc: $(cat verify.out)"
  handed_out=$(find big -name '*.crt' -exec openssl x509 -noout -serial -in {} \; | cut -d= -f2 | tr 'A-F' 'a-f')
  while IFS= read -r line; do
    [[ $line == "unaccounted: certificate "*"no audit line accounts for it"* ]] ||
      fail "audit verify after the kills names something else: $line"
    remedy=$(sed -n "s/.*revoke it: 'hwca revoke --ca \([^ ]*\) \([0-9a-f]*\)').*/\1 \2/p" <<<"$line")
    read -r ca serial <<<"$remedy"
    [[ -n $serial ]] || fail "no remedy in: $line"
    grep -qx "$serial" <<<"$handed_out" && fail "unaudited certificate $serial is in a node tree"
    hwca revoke --ca "$ca" "$serial" >/dev/null
  done < <(grep '^unaccounted: ' verify.out)
  hwca audit verify >/dev/null
fi

# A staging left by a killed run, as found: with a COMMIT record it is finished...
mkdir -p big/.hwca-staging/new/w1 && echo staged >big/.hwca-staging/new/w1/marker
echo w1 >big/.hwca-staging/COMMIT
out=$(hwca_pin k8s certs --config big.yaml --out big)
assert_contains "$out" "finished an interrupted earlier run" "recovery"
[[ $(cat big/w1/marker) == staged ]] || fail "the staged tree was not put in place"
# ...and the tree it put in place is then checked like any other: w1 lacked its files.
assert_contains "$out" "wrote 1 node tree" "after recovery"
[[ -f big/w1/kubelet.conf && -f big/w1/pki/ca.crt ]] || fail "w1 was not completed"
# Without one it is discarded.
mkdir -p big/.hwca-staging/new/w2 && echo half >big/.hwca-staging/new/w2/kubelet.conf
out=$(hwca k8s certs --config big.yaml --out big)
assert_contains "$out" "discarded an interrupted earlier run" "discard"
[[ $(grep -c half big/w2/kubelet.conf) == 0 ]] || fail "the half-staged file was put in place"
# Two runs at once: the second is refused.
exec 9>big/.hwca.lock
flock 9
expect_fail 6 "another hwca run is writing big" hwca k8s certs --config big.yaml --out big
exec 9>&-

# --- Damaged files in a tree: replaced, with the reason.
k8s_cluster_yaml good.yaml cp1:control-plane:10.0.0.11 cp2:control-plane:10.0.0.12 w1:worker:10.0.0.21
hwca_pin k8s certs --config good.yaml --out pki >/dev/null
echo garbage >pki/cp1/pki/apiserver.crt
head -c 100 pki/w1/kubelet.conf >pki/w1/kubelet.conf.cut && mv pki/w1/kubelet.conf.cut pki/w1/kubelet.conf
cp pki/cp1/pki/etcd/peer.key pki/cp1/pki/etcd/server.key  # a key that is not the certificate's
out=$(hwca_pin k8s certs --config good.yaml --out pki)
assert_contains "$out" "replaced, pki/apiserver.crt holds no readable certificate: cp1/apiserver" "garbage crt"
grep -q "^replaced, kubelet.conf[: ].*: w1/kubelet.conf$" <<<"$out" || fail "cut kubeconfig: $out"
assert_contains "$out" "replaced, its key does not match its certificate: cp1/etcd-server" "wrong key"
openssl verify -CAfile pki/cp1/pki/ca.crt pki/cp1/pki/apiserver.crt >/dev/null
# A certificate and key of another CA (the etcd CA's apiserver-etcd-client pair) in place
# of front-proxy-client: the key matches, the issuer does not.
cp pki/cp1/pki/apiserver-etcd-client.crt pki/cp1/pki/front-proxy-client.crt
cp pki/cp1/pki/apiserver-etcd-client.key pki/cp1/pki/front-proxy-client.key
out=$(hwca_pin k8s certs --config good.yaml --out pki)
assert_contains "$out" "replaced, it was not issued by the current front-proxy-ca: cp1/front-proxy-client" "wrong issuer"
# Different service-account keys on two control planes: refused, nothing changes.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out pki/cp2/pki/sa.key 2>/dev/null
rm pki/cp2/pki/apiserver.crt
sums=$(cd pki && find . -type f ! -name .hwca.lock | sort | xargs sha256sum)
certs_before=$(count_certs)
expect_fail 6 "hold different service-account keys" hwca_pin k8s certs --config good.yaml --out pki
[[ $(cd pki && find . -type f ! -name .hwca.lock | sort | xargs sha256sum) == "$sums" ]] ||
  fail "a refused run changed the tree"
[[ $(count_certs) == "$certs_before" ]] || fail "a refused run issued certificates"

# --- Usage mistakes of the other subcommands.
expect_fail 2 "--server 'http://x' is not an https:// URL" hwca_pin k8s kubeconfig --ca k8s-ca \
  --user bob --server http://x --out bob.conf
expect_fail 2 "--server 'https://bad_host' has no valid host" hwca_pin k8s kubeconfig --ca k8s-ca \
  --user bob --server https://bad_host --out bob.conf
expect_fail 2 "--user is empty" hwca_pin k8s kubeconfig --ca k8s-ca --user "" \
  --server https://10.0.0.1:6443 --out bob.conf
expect_fail 2 "holds control characters" hwca_pin k8s kubeconfig --ca k8s-ca --user "$(printf 'b\033ob')" \
  --server https://10.0.0.1:6443 --out bob.conf
expect_fail 2 "key type" hwca_pin k8s kubeconfig --ca k8s-ca --user bob --key-type dsa \
  --server https://10.0.0.1:6443 --out bob.conf
expect_fail 3 "no CA named 'nope'" hwca_pin k8s kubeconfig --ca nope --user bob \
  --server https://10.0.0.1:6443 --out bob.conf
expect_fail 3 "cannot write nodir/bob.conf" hwca_pin k8s kubeconfig --ca k8s-ca --user bob \
  --server https://10.0.0.1:6443 --out nodir/bob.conf
[[ ! -e bob.conf ]] || fail "a refused kubeconfig was written"
expect_fail 2 "--output" hwca k8s check-expiration --dir pki --output xml
mkdir empty
expect_fail 3 "no Kubernetes certificates in empty" hwca k8s check-expiration --dir empty
expect_fail 3 "no tree for node 'nope'" hwca k8s check-expiration --dir pki --node nope
echo junk >pki/w1/admin.conf
expect_fail 7 "1 file could not be read" hwca k8s check-expiration --dir pki
expect_fail 2 "no node 'nope' in the cluster description" hwca_pin k8s certs --config good.yaml \
  --out pki --node nope
hwca audit verify >/dev/null
echo ok
