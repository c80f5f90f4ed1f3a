#!/usr/bin/env bash
# `hwca ek-roots` and `hwca node` with a real swtpm: its EK certificates read from NV with
# tpm2_nvread (RSA-2048 0x01c00002, ECC P-384 0x01c00016) chain to the swtpm-localca root and
# intermediate added with `hwca ek-roots add`; register, list, show, unregister and import
# (YAML, all or nothing); an EK certificate from an untrusted root (made with openssl, of the
# real shape) is refused, as are an EK registered twice, a second TPM for a node, a key
# attestation cannot use and bad input; every change has its audit line and `hwca audit
# verify` accounts for the registry (a row added behind its back is caught).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
need sqlite3 openssl tpm2_nvread jq
# shellcheck source=swtpm_lib.sh
source "$here/swtpm_lib.sh"

export HWCA_HOME=$WORK/home
DB=$HWCA_HOME/issuance.db
AUDIT=$HWCA_HOME/audit.log
cd "$WORK" || fail "no $WORK"

# --- help ---------------------------------------------------------------------------------
out=$(hwca --help)
assert_contains "$out" "node" "hwca --help"
assert_contains "$out" "ek-roots" "hwca --help"
out=$(hwca node --help)
for word in "Usage: hwca node" register list show unregister import SubjectPublicKeyInfo; do
  assert_contains "$out" "$word" "hwca node --help"
done
out=$(hwca node register --help)
for word in "--name NAME" "--ek-cert FILE" "--ek-pub FILE" "0x01c00002" "RSA-2048/3072" \
  "P-256/P-384" "hwca ek-roots add"; do
  assert_contains "$out" "$word" "hwca node register --help"
done
out=$(hwca node import --help)
for word in "--file FILE" YAML "all or nothing" "docs/cli.md"; do
  assert_contains "$out" "$word" "hwca node import --help"
done
out=$(hwca ek-roots --help)
for word in "Usage: hwca ek-roots" add list remove anchors intermediates; do
  assert_contains "$out" "$word" "hwca ek-roots --help"
done

mkdir -m 700 "$HWCA_HOME"
: >"$HWCA_HOME/config.yaml"

# --- the swtpm's EK certificates, as a node would read them --------------------------------
swtpm_start node
tpm2_nvread 0x01c00002 -o ek-rsa.nv >/dev/null 2>&1 || fail "tpm2_nvread 0x01c00002"
tpm2_nvread 0x01c00016 -o ek-ecc.nv >/dev/null 2>&1 || fail "tpm2_nvread 0x01c00016"
[[ -s $SWTPM_EK_ROOT && -s $SWTPM_EK_INTERMEDIATE ]] || fail "no swtpm-localca chain in $SWTPM_DIR"
digest_of_cert() { openssl x509 -inform DER -in "$1" -pubkey -noout | pub_digest; }
rsa_sha=$(digest_of_cert ek-rsa.nv)
ecc_sha=$(digest_of_cert ek-ecc.nv)
[[ ${#rsa_sha} == 64 && ${#ecc_sha} == 64 && $rsa_sha != "$ecc_sha" ]] || fail "EK digests"
openssl x509 -inform DER -in ek-ecc.nv -pubkey -noout >ek-ecc.pub.pem
openssl x509 -inform DER -in ek-rsa.nv -out ek-rsa.pem

# An EK certificate of the real shape (critical SAN of TCG attributes, EK EKU; a CN, which
# openssl req needs) from a root nobody added. ("x." in front of an attribute's OID: openssl
# drops what comes before the first '.' of a name in a dirName section.)
cat >ek.cnf <<'EOF'
[ek]
basicConstraints = critical,CA:FALSE
keyUsage = critical,keyEncipherment
extendedKeyUsage = 2.23.133.8.1
subjectAltName = critical,dirName:tcg
[tcg]
x.2.23.133.2.1 = id:00001014
x.2.23.133.2.2 = fake
x.2.23.133.2.3 = id:00000001
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign
EOF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout fake-root.key \
  -subj "/CN=swtpm-localca-rootca" -days 30 -extensions ca -config ek.cnf -out fake-root.pem \
  2>/dev/null || fail "fake root"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out fake-ek.key 2>/dev/null
openssl req -new -key fake-ek.key -subj "/CN=fake" -out fake-ek.csr 2>/dev/null
openssl x509 -req -in fake-ek.csr -CA fake-root.pem -CAkey fake-root.key -set_serial 5 \
  -days 30 -extfile ek.cnf -extensions ek -outform DER -out fake-ek.der 2>/dev/null ||
  fail "fake EK certificate"
openssl x509 -req -in fake-ek.csr -CA fake-root.pem -CAkey fake-root.key -set_serial 6 \
  -days 30 -extfile ek.cnf -extensions ek -out leaf.pem 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 2>/dev/null |
  openssl pkey -pubout -out p521.pub.pem
printf 'not a certificate\n' >garbage.der

# --- EK roots -----------------------------------------------------------------------------
cat "$SWTPM_EK_ROOT" "$SWTPM_EK_INTERMEDIATE" >localca.pem
expect_fail 2 "is not a CA certificate" hwca ek-roots add leaf.pem
out=$(hwca ek-roots add localca.pem)
assert_contains "$out" "(anchor): CN=swtpm-localca-rootca" "ek-roots add"
assert_contains "$out" "(intermediate): CN=swtpm-localca" "ek-roots add"
root_sha=$(openssl x509 -in "$SWTPM_EK_ROOT" -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)
assert_contains "$out" "added EK root $root_sha (anchor)" "ek-roots add"
expect_fail 6 "is already an EK root" hwca ek-roots add "$SWTPM_EK_ROOT"
out=$(hwca ek-roots list)
assert_contains "$out" "$root_sha  anchor" "ek-roots list"
[[ $(grep -c intermediate <<<"$out") == 1 ]] || fail "ek-roots list: $out"
[[ $(sqlite3 "$DB" 'SELECT count(*) FROM ek_roots') == 2 ]] || fail "ek_roots rows"

# --- register -----------------------------------------------------------------------------
expect_fail 2 "not a Kubernetes node name" hwca node register --name Worker_1 --ek-cert ek-rsa.nv
expect_fail 2 "give the node's EK as one of --ek-cert or --ek-pub" hwca node register --name w
expect_fail 2 "excludes" hwca node register --name w --ek-cert ek-rsa.nv --ek-pub ek-ecc.pub.pem
expect_fail 2 "neither PEM nor DER" hwca node register --name w --ek-cert garbage.der
expect_fail 2 "not a SubjectPublicKeyInfo" hwca node register --name w --ek-pub garbage.der
expect_fail 2 "attestation takes RSA-2048/3072 and ECC P-256/P-384 EKs" \
  hwca node register --name w --ek-pub p521.pub.pem
expect_fail 4 "does not chain to a trusted EK root" \
  hwca node register --name w --ek-cert fake-ek.der
[[ $(sqlite3 "$DB" 'SELECT count(*) FROM node_tpms') == 0 ]] || fail "a refusal stored a TPM"

out=$(hwca node register --name worker-1 --ek-cert ek-rsa.nv)
assert_contains "$out" "registered node 'worker-1': EK certificate, SHA-256 $rsa_sha" "register"
[[ $(sqlite3 "$DB" "SELECT ek_sha256, ek_kind FROM node_tpms WHERE node = 'worker-1'") == \
  "$rsa_sha|certificate" ]] || fail "worker-1's row"
expect_fail 6 "is already registered for node 'worker-1'" \
  hwca node register --name worker-2 --ek-cert ek-rsa.pem
expect_fail 6 "node 'worker-1' already has a TPM" \
  hwca node register --name worker-1 --ek-pub ek-ecc.pub.pem
out=$(hwca node register --name worker-2 --ek-pub ek-ecc.pub.pem)
assert_contains "$out" "registered node 'worker-2': EK public-key, SHA-256 $ecc_sha" "register"

out=$(hwca node list)
assert_contains "$out" "NODE" "node list"
assert_contains "$out" "worker-1  certificate  $rsa_sha" "node list"
assert_contains "$out" "worker-2  public-key   $ecc_sha" "node list"
[[ $(hwca node list --json | jq -r '.[1].ekSha256') == "$ecc_sha" ]] || fail "node list --json"
out=$(hwca node show worker-1)
for word in "EK kind:       certificate" "EK sha256:     $rsa_sha" "EK issuer:     CN=swtpm-localca" \
  "registered by: cli:uid=$(id -u)"; do
  assert_contains "$out" "$word" "node show"
done
expect_fail 3 "node 'nobody' has no registered TPM" hwca node show nobody

out=$(hwca node unregister worker-1)
assert_contains "$out" "unregistered node 'worker-1' (EK SHA-256 $rsa_sha)" "unregister"
expect_fail 3 "node 'worker-1' has no registered TPM" hwca node unregister worker-1
expect_fail 3 "node 'worker-1' has no registered TPM" hwca node show worker-1
hwca node unregister worker-2 >/dev/null

# --- import: all or nothing -----------------------------------------------------------------
mkdir -p inv/certs inv/keys
cp ek-rsa.nv inv/certs/worker-1-ek.der
cp ek-ecc.pub.pem inv/keys/worker-2-ek.pub.pem
cp fake-ek.der inv/certs/worker-3-ek.der
good='nodes:
  - name: worker-1
    ek-cert: certs/worker-1-ek.der
  - name: worker-2
    ek-pub: keys/worker-2-ek.pub.pem
    ip: [10.0.0.22, "fd00:0::22"]'
printf '%s\n  - name: worker-3\n    ek-cert: certs/worker-3-ek.der\n' "$good" >inv/untrusted.yaml
printf '%s\n  - name: worker-1\n    ek-pub: keys/worker-2-ek.pub.pem\n' "$good" >inv/twice.yaml
printf '%s\n  - name: worker-3\n    ek-pub: keys/none.pem\n' "$good" >inv/missing.yaml
printf '%s\n  - name: worker-3\n    ek-cert: certs/worker-3-ek.der\n    addresses: [10.0.0.1]\n' "$good" \
  >inv/unknown.yaml
printf '%s\n  - name: worker-3\n    ek-cert: certs/worker-3-ek.der\n    ip: 10.0.0.1\n' "$good" \
  >inv/ip-scalar.yaml
printf '%s\n  - name: worker-3\n    ek-pub: keys/worker-2-ek.pub.pem\n    ip: [10.0.0.300]\n' "$good" \
  >inv/ip-bad.yaml
printf '%s\n  - name: worker-3\n    ek-pub: keys/worker-2-ek.pub.pem\n' "$good" >inv/same-ek.yaml
printf '%s\n' "$good" >inv/nodes.yaml
expect_fail 4 "inv/untrusted.yaml entry 3 (name 'worker-3'): the EK certificate does not chain" \
  hwca node import --file inv/untrusted.yaml
expect_fail 2 "inv/twice.yaml entry 3 (name 'worker-1'): the same node as entry 1" \
  hwca node import --file inv/twice.yaml
expect_fail 3 "inv/missing.yaml entry 3 (name 'worker-3')" hwca node import --file inv/missing.yaml
expect_fail 2 "inv/unknown.yaml entry 3: unknown key 'addresses'" hwca node import --file inv/unknown.yaml
expect_fail 2 "inv/ip-scalar.yaml entry 3: ip is not a list of addresses" \
  hwca node import --file inv/ip-scalar.yaml
expect_fail 2 "inv/ip-bad.yaml entry 3 (name 'worker-3'): ip '10.0.0.300' is not an IPv4 or IPv6 address" \
  hwca node import --file inv/ip-bad.yaml
expect_fail 2 "inv/same-ek.yaml entry 3 (name 'worker-3'): the same EK as entry 2" \
  hwca node import --file inv/same-ek.yaml
[[ $(sqlite3 "$DB" 'SELECT count(*) FROM node_tpms') == 0 ]] || fail "a failed import stored TPMs"
out=$(hwca node import --file inv/nodes.yaml)
assert_contains "$out" "registered node 'worker-1': EK certificate, SHA-256 $rsa_sha" "import"
assert_contains "$out" "registered node 'worker-2': EK public-key, SHA-256 $ecc_sha, addresses 10.0.0.22, fd00::22" "import"
[[ $(sqlite3 "$DB" "SELECT addresses FROM node_tpms WHERE node = 'worker-2'") == '["10.0.0.22","fd00::22"]' ]] ||
  fail "worker-2's stored addresses: $(sqlite3 "$DB" "SELECT addresses FROM node_tpms WHERE node = 'worker-2'")"
# One that clashes with what is stored stores nothing either.
printf 'nodes:\n  - name: worker-9\n    ek-cert: %s\n  - name: worker-1\n    ek-pub: %s\n' \
  "$WORK/ek-rsa.pem" "$WORK/ek-ecc.pub.pem" >inv/clash.yaml
expect_fail 6 "already" hwca node import --file inv/clash.yaml
[[ $(sqlite3 "$DB" 'SELECT group_concat(node) FROM node_tpms ORDER BY node') == \
  "worker-1,worker-2" ]] || fail "node_tpms after the imports"

# --- the audit log ------------------------------------------------------------------------
events=$(jq -r '.event' "$AUDIT" | sort | uniq -c | awk '{print $2 "=" $1}' | tr '\n' ' ')
for e in ek_root.added=2 node.registered=4 node.unregistered=2; do
  assert_contains "$events" "$e" "audit events"
done
line=$(jq -c 'select(.event == "node.registered")' "$AUDIT" | tail -2 | head -1)
assert_contains "$line" "\"ek_sha256\":\"$rsa_sha\"" "node.registered line"
assert_contains "$line" "\"node\":\"worker-1\"" "node.registered line"
out=$(hwca audit verify)
assert_contains "$out" "2 node TPMs, 2 EK roots" "audit verify"
assert_contains "$out" "every node TPM and EK root" "audit verify"
# A TPM registered behind the log's back is caught.
sqlite3 "$DB" "INSERT INTO node_tpms VALUES ('rogue', '$(printf '%064d' 0)', 'public-key', x'30', 0, 'x', '[]')"
expect_fail 6 "the TPM of node 'rogue'" hwca audit verify
sqlite3 "$DB" "DELETE FROM node_tpms WHERE node = 'rogue'"
# So is an address added behind its back (it would let the node's serving certificates name it).
sqlite3 "$DB" "UPDATE node_tpms SET addresses = '[\"10.0.0.22\",\"fd00::22\",\"10.9.9.9\"]' WHERE node = 'worker-2'"
expect_fail 6 "the TPM of node 'worker-2' (EK SHA-256 $ecc_sha, addresses 10.0.0.22, fd00::22, 10.9.9.9)" hwca audit verify
sqlite3 "$DB" "UPDATE node_tpms SET addresses = '[\"10.0.0.22\",\"fd00::22\"]' WHERE node = 'worker-2'"
out=$(hwca audit verify)
assert_contains "$out" "the hash chain is intact" "audit verify (addresses restored)"

intermediate_sha=$(openssl x509 -in "$SWTPM_EK_INTERMEDIATE" -outform DER | openssl dgst -sha256 -r |
  cut -d' ' -f1)
out=$(hwca ek-roots remove "$intermediate_sha")
assert_contains "$out" "removed EK root $intermediate_sha: CN=swtpm-localca" "ek-roots remove"
expect_fail 3 "no EK root has SHA-256" hwca ek-roots remove "$intermediate_sha"
# Without the intermediate, the swtpm's EK certificate no longer chains.
hwca node unregister worker-1 >/dev/null
expect_fail 4 "unable to get local issuer certificate" \
  hwca node register --name worker-1 --ek-cert ek-rsa.nv
[[ $(jq -r 'select(.event == "ek_root.removed") | .data.sha256' "$AUDIT") == "$intermediate_sha" ]] ||
  fail "no ek_root.removed line"
hwca audit verify >/dev/null || fail "audit verify after the changes"

echo "ok: node registry: ek-roots, register, list, show, unregister, import, refusals, audit"
