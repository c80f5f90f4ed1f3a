#!/usr/bin/env bash
# `hwca ca init|list|show`: a root CA whose key is generated in the token, an intermediate
# signed by it, both checked by stock openssl and GnuTLS and field by field; the audit log
# records both; bad requests fail with one line and leave the home as it was.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

export HWCA_HOME=$WORK/home

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p384 \
  --subject "/CN=hwca test root/O=hwca" >/dev/null
hwca_pin ca init --name k8s --key "$(key_uri k8s)" --generate ec-p256 \
  --subject "CN=kubernetes" --parent root --days 100000 >/dev/null

root=$HWCA_HOME/cas/root/cert.pem
sub=$HWCA_HOME/cas/k8s/cert.pem
[[ -f $root && -f $sub ]] || fail "the CA certificates were not written"

# Chains verify with stock openssl and GnuTLS.
out=$(openssl verify -CAfile "$root" "$sub") || fail "openssl verify: $out"
hwca_pin ca show k8s --pem >"$WORK/chain.pem"
[[ $(grep -c "BEGIN CERTIFICATE" "$WORK/chain.pem") == 2 ]] || fail "the chain holds not 2 certs"
out=$(certtool --verify-chain --infile "$WORK/chain.pem" 2>&1) || fail "certtool: $out"
assert_contains "$out" "Chain verification output: Verified" "certtool"

# Extensions, field by field.
rtext=$(openssl x509 -in "$root" -noout -text)
stext=$(openssl x509 -in "$sub" -noout -text)
assert_contains "$rtext" "X509v3 Basic Constraints: critical" "root"
grep -A1 "Basic Constraints" <<<"$rtext" | grep -qx ' *CA:TRUE' || fail "root: CA:TRUE without pathlen expected"
assert_contains "$rtext" "X509v3 Key Usage: critical" "root"
assert_contains "$rtext" "Digital Signature, Certificate Sign, CRL Sign" "root"
[[ $rtext != *"Authority Key Identifier"* ]] || fail "root: unexpected authorityKeyIdentifier"
assert_contains "$rtext" "ecdsa-with-SHA384" "root"
assert_contains "$stext" "CA:TRUE, pathlen:0" "intermediate"
assert_contains "$stext" "ecdsa-with-SHA384" "intermediate (signed by the P-384 root)"
root_ski=$(grep -A1 "Subject Key Identifier" <<<"$rtext" | tail -1 | tr -d ' ')
sub_aki=$(grep -A1 "Authority Key Identifier" <<<"$stext" | tail -1 | tr -d ' ' | sed 's/^keyid://')
[[ -n $root_ski && $root_ski == "$sub_aki" ]] || fail "AKI ($sub_aki) is not the root's SKI ($root_ski)"
# The intermediate's validity is clipped to the root's.
[[ $(openssl x509 -in "$sub" -noout -enddate) == "$(openssl x509 -in "$root" -noout -enddate)" ]] ||
  fail "the intermediate outlives its parent"
# The certificates carry the token keys.
[[ $(openssl x509 -in "$sub" -noout -pubkey | pub_digest) == "$(show_pem_digest "$(key_uri k8s)")" ]] ||
  fail "the intermediate does not carry the token's k8s key"

# list, show, the audit log, and no secret in the home.
list=$(hwca ca list)
assert_contains "$list" "k8s" "ca list"
assert_contains "$list" "CN=kubernetes" "ca list"
show=$(hwca_pin ca show root --key-attributes)
assert_contains "$show" "never-extractable: yes" "ca show"
assert_contains "$show" "path length:       unlimited" "ca show"
[[ $(grep -c '"event":"ca.created"' "$HWCA_HOME/audit.log") == 2 ]] || fail "audit log: 2 ca.created expected"
! grep -rq -e "$PIN" -e "PRIVATE KEY" "$HWCA_HOME" || fail "a PIN or a private key is in the home"

# Bad requests: one line, the right code, the home unchanged.
before=$(home_state)
expect_fail 6 "already exists" hwca_pin ca init --name root --key "$(key_uri root)" --subject /CN=x
expect_fail 3 "no CA named 'nosuch'" hwca_pin ca init --name x --key "$(key_uri root)" --subject /CN=x --parent nosuch
expect_fail 2 "path length 0" hwca_pin ca init --name x --key "$(key_uri root)" --subject /CN=x --parent k8s
expect_fail 2 "subject" hwca_pin ca init --name x --key "$(key_uri root)" --subject "/NOPE=1"
expect_fail 2 "CA name" hwca_pin ca init --name "Bad/Name" --key "$(key_uri root)" --subject /CN=x
expect_fail 2 "--days" hwca_pin ca init --name x --key "$(key_uri root)" --subject /CN=x --days 0
expect_fail 3 "no private key object=missing" hwca_pin ca init --name x --key "$(key_uri missing)" --subject /CN=x
expect_fail 4 "pin-value" hwca ca init --name x --key "$(key_uri root)?pin-value=$ARGV_PIN" --subject /CN=x
expect_fail 3 "no CA named 'nosuch'" hwca_pin ca show nosuch
after=$(home_state)
[[ $before == "$after" ]] || fail "a refused request changed the home: $(diff <(echo "$before") <(echo "$after") | tr "\n" " ")"
expect_fail 3 "no CA home" env HWCA_HOME="$WORK/nohome" "$HWCA_BIN" ca list

# The audit chain verifies, and an edited line is found.
out=$(hwca audit verify)
assert_contains "$out" "2 events, the hash chain is intact" "audit verify"
sed -i '1s/"ca":"root"/"ca":"r00t"/' "$HWCA_HOME/audit.log"
expect_fail 6 "line 2 does not carry the hash of the line before it" hwca audit verify

# PIN precedence when loading a CA key: the URI's pin-source comes before $HWCA_PIN_SOURCE
# (a wrong PIN there would be refused and never retried).
(umask 077 && printf '%s\n' "$WRONG_PIN" >"$WORK/wrong-pin")
HWCA_PIN_SOURCE="file:$WORK/wrong-pin" hwca ca init --name pin-order --key "$(key_uri_pin root)" \
  --subject /CN=pin-order >/dev/null || fail "the URI's pin-source did not come before HWCA_PIN_SOURCE"

echo "ok: root and intermediate CAs in the token, verified by openssl and GnuTLS"
