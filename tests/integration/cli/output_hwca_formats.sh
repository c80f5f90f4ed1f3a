#!/usr/bin/env bash
# -o json|yaml on the commands that list, show, create or change something: token, key, ca,
# sign, cert, revoke, crl, audit, bootstrap, ek-roots and node. Each document is read with
# jq (YAML with python3-yaml, and equal to the JSON), and its values are checked against
# openssl's reading of the same certificate, CRL or key, not against hwca's own text. A
# command that writes a payload (sign's PEM, crl's CRL, bootstrap create's token) carries it
# as a field; a failure prints one line on stderr and nothing on standard output.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
export HWCA_HOME=$WORK/home

rfc3339() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
cert_end() { rfc3339 "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)"; }
cert_serial() { local s; s=$(openssl x509 -in "$1" -noout -serial | cut -d= -f2); echo "${s,,}"; }
cert_subject() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
# yaml_of CMD...: run CMD (it changes something, so it runs once) with -o yaml; the JSON of it.
yaml_of() { "$@" -o yaml | yaml_to_json; }
# no_stdout CODE TEXT CMD...: CMD fails (expect_fail) and prints nothing on standard output.
no_stdout() {
  expect_fail "$@"
  [[ ! -s $WORK/.fail.out ]] || fail "'${*:3}' printed on standard output: $(cat "$WORK/.fail.out")"
}

# --- token list / init ---------------------------------------------------------------------
# softhsm2-util --show-slots: the serial of the token labelled $1.
softhsm_serial() {
  softhsm2-util --show-slots | awk -v want="$1" '/Serial number:/ {s=$3} /Label:/ {if ($2 == want) print s}'
}
doc=$(same_doc hwca token list)
[[ $(jq -r '.[0] | [.label, .serial, (.uri | test("token=ca")), (.flags | index("login-required") != null)] | join(" ")' <<<"$doc") \
  == "ca $(softhsm_serial ca) true true" ]] || fail "token list -o json: $doc"
(umask 077 && printf '%s\n' "$SO_PIN" >so.pin)
doc=$(hwca_pin token init --label second --so-pin-source "file:$WORK/so.pin" -o json)
serial=$(softhsm_serial second)
[[ $(jq -r '[.label, .serial] | join(" ")' <<<"$doc") == "second $serial" ]] ||
  fail "token init -o json: $doc (softhsm2-util says serial $serial)"

# --- key generate / list / show -------------------------------------------------------------
doc=$(hwca_pin key generate --key "$(key_uri k1)" --type ec-p384 -o json)
[[ $(jq -r '[.label, .type, (.uri | test("object=k1;id="))] | join(" ")' <<<"$doc") == "k1 ec-p384 true" ]] ||
  fail "key generate -o json: $doc"
gen_id=$(jq -r .id <<<"$doc")
doc=$(same_doc hwca_pin key list --token pkcs11:token=ca)
[[ $(jq -r '.[] | select(.label == "k1") | .id' <<<"$doc") == "$gen_id" ]] || fail "key list -o json: $doc"
doc=$(same_doc hwca_pin key show --key "$(key_uri k1)")
[[ $(jq -r '[.bits, .attributes.sensitive, .attributes.extractable, .id] | join(" ")' <<<"$doc") == \
  "384 true false $gen_id" ]] || fail "key show -o json: $doc"
gnutls_key=$(p11tool --provider "$SOFTHSM_MODULE" --export "pkcs11:token=ca;object=k1;type=public" | pub_digest)
[[ $(jq -r .publicKey <<<"$doc" | pub_digest) == "$gnutls_key" ]] ||
  fail "key show -o json: publicKey is not the key p11tool reads"

# --- ca init / list / show --------------------------------------------------------------------
doc=$(hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 \
  --subject "/CN=output root/O=hwca" -o yaml | yaml_to_json)
root=$HWCA_HOME/cas/root/cert.pem
[[ $(jq -r '[.name, .parent, .certificateFile, .serial, .subject, .notAfter, .keyGenerated, .key.type, .key.label] | join("|")' <<<"$doc") == \
  "root||$root|$(cert_serial "$root")|$(cert_subject "$root")|$(cert_end "$root")|true|ec-p256|root" ]] ||
  fail "ca init -o yaml: $doc"
[[ $(jq -c .basicConstraints <<<"$doc") == '{"ca":true,"pathLength":null}' ]] || fail "ca init: $doc"
hwca_pin ca init --name sub --key "$(key_uri sub)" --generate ec-p256 --subject "/CN=output sub" \
  --parent root >/dev/null
doc=$(same_doc hwca ca list)
sub=$HWCA_HOME/cas/sub/cert.pem
[[ $(jq -r 'map([.name, (.parent // "-"), .serial, .notAfter] | join(" ")) | join(",")' <<<"$doc") == \
  "root - $(cert_serial "$root") $(cert_end "$root"),sub root $(cert_serial "$sub") $(cert_end "$sub")" ]] ||
  fail "ca list -o json: $doc"
doc=$(same_doc hwca ca show sub --pin-source env:HWCA_UNSET_PIN_VAR)  # no token opened
[[ $(jq -c '[.key.type, .key.attributes, .crlDistributionPoints, .issuingCertificateURLs]' <<<"$doc") == \
  '["ec-p256",null,[],[]]' ]] || fail "ca show -o json without --key-attributes: $doc"
doc=$(same_doc hwca_pin ca show sub --key-attributes)
[[ $(jq -r '[.serial, .issuer, .sha256, .key.attributes.sensitive, .basicConstraints.pathLength] | join("|")' <<<"$doc") == \
  "$(cert_serial "$sub")|$(cert_subject "$root")|$(openssl x509 -in "$sub" -noout -fingerprint -sha256 | cut -d= -f2)|true|0" ]] ||
  fail "ca show -o json: $doc"
no_stdout 2 "--output" hwca ca show root --pem -o json

# --- sign: the certificate described, with itself as "pem" -------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout web.key -subj /CN=web \
  -addext "subjectAltName=DNS:web.example,IP:10.1.2.3" -out web.csr 2>/dev/null
doc=$(hwca_pin sign --ca root --profile server --csr web.csr -o json)
jq -r .pem <<<"$doc" >web.pem
openssl verify -CAfile "$root" web.pem >/dev/null || fail "sign -o json: pem does not verify"
web=$(cert_serial web.pem)
[[ $(jq -r '[.serial, .subject, .notAfter, (.sans | join(",")), .ca, .profile, .status, .out] | join("|")' <<<"$doc") == \
  "$web|$(cert_subject web.pem)|$(cert_end web.pem)|DNS:web.example,IP:10.1.2.3|root|server|valid|" ]] ||
  fail "sign -o json: $doc"
assert_contains "$(openssl x509 -in web.pem -noout -ext subjectAltName)" "DNS:web.example, IP Address:10.1.2.3" "openssl SANs"
sign_doc=$doc
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key \
  -subj /CN=client -out client.csr 2>/dev/null
doc=$(hwca_pin sign --ca root --profile client --csr client.csr --out client.pem --chain -o yaml | yaml_to_json)
[[ $(jq -r '[.serial, .out, .profile] | join(" ")' <<<"$doc") == "$(cert_serial client.pem) client.pem client" ]] ||
  fail "sign --out -o yaml: $doc"
[[ $(jq -r .pem <<<"$doc") == "$(cat client.pem)" ]] || fail "sign --out -o yaml: pem is not the file"
[[ $(grep -c 'BEGIN CERTIFICATE' client.pem) == 2 ]] || fail "sign --chain"
client=$(jq -r .serial <<<"$doc")
no_stdout 3 "no CA named" hwca_pin sign --ca nope --profile server --csr web.csr -o json

# --- cert list / show: a certificate is described as sign described it ----------------------
doc=$(same_doc hwca cert show "$web")
[[ $(jq -S -c 'del(.renewedInto)' <<<"$doc") == "$(jq -S -c 'del(.pem, .out)' <<<"$sign_doc")" ]] ||
  fail "cert show -o json differs from sign's description:"$'\n'"$doc"$'\n'"$sign_doc"
[[ $(jq -c .renewedInto <<<"$doc") == "[]" ]] || fail "cert show renewedInto: $doc"
doc=$(same_doc hwca cert list --ca root)
want=$(printf '%s\n' "$web" "$client" "$(cert_serial "$sub")" "$(cert_serial "$root")" | sort | tr '\n' ' ')
[[ "$(jq -r 'map(.serial) | sort | join(" ")' <<<"$doc") " == "$want" ]] ||
  fail "cert list -o json: $(jq -c 'map(.serial)' <<<"$doc"), expected $want"
[[ $(jq -S -c --arg s "$web" '.[] | select(.serial == $s) | del(.renewedInto)' <<<"$doc") == \
  "$(jq -S -c 'del(.renewedInto)' <<<"$(hwca cert show "$web" -o json)")" ]] || fail "cert list and cert show differ"
no_stdout 3 "no certificate with serial" hwca cert show ffff -o json
no_stdout 2 "--output" hwca cert show "$web" --pem -o json

# --- revoke, crl -----------------------------------------------------------------------------
doc=$(hwca revoke --ca root "$web" --reason keyCompromise -o json)
[[ $(jq -r '[.ca, .reason, .reasonCode, (.revoked | length), .revoked[0].serial, .revoked[0].status, .revoked[0].revocationReason] | join(" ")' <<<"$doc") == \
  "root keyCompromise 1 1 $web revoked keyCompromise" ]] || fail "revoke -o json: $doc"
no_stdout 6 "already revoked" hwca revoke --ca root "$web" -o json
doc=$(hwca revoke --ca root "$client" --with-renewals --reason superseded -o yaml | yaml_to_json)
[[ $(jq -r '[.reason, (.revoked | map([.serial, .status, .revocationReason] | join(" ")) | join(","))] | join(" ")' <<<"$doc") == \
  "superseded $client revoked superseded" ]] || fail "revoke --with-renewals -o yaml: $doc"
doc=$(hwca_pin crl --ca root -o json)
jq -r .pem <<<"$doc" >crl.pem
openssl crl -in crl.pem -noout -verify -CAfile "$root" 2>&1 | grep -q "verify OK" || fail "crl -o json: pem does not verify"
crl_serials=$(openssl crl -in crl.pem -noout -text | sed -n 's/^ *Serial Number: //p' | tr 'A-F' 'a-f' | sort | paste -sd,)
[[ $(jq -r '.revoked | map(.serial) | sort | join(",")' <<<"$doc") == "$crl_serials" ]] ||
  fail "crl -o json: revoked serials differ from openssl's $crl_serials: $doc"
[[ $(jq -r '[.ca, .number, .nextUpdate, (.revoked | map(.serial) | sort | join(",")), .out] | join(" ")' <<<"$doc") == \
  "root $(printf '%d' "$(openssl crl -in crl.pem -noout -crlnumber | cut -d= -f2)") $(rfc3339 "$(openssl crl -in crl.pem -noout -nextupdate | cut -d= -f2)") $(printf '%s\n' "$web" "$client" | sort | paste -sd,) " ]] ||
  fail "crl -o json: $doc"
doc=$(hwca_pin crl --ca root --der --out crl.der -o yaml | yaml_to_json)
[[ $(jq -r .der <<<"$doc" | base64 -d | sha256sum) == "$(sha256sum <crl.der)" ]] || fail "crl --der -o yaml: der is not the file"
[[ $(jq -r .number <<<"$doc") == "$(printf '%d' "$(openssl crl -inform DER -in crl.der -noout -crlnumber | cut -d= -f2)")" ]] ||
  fail "crl --der -o yaml: $doc"

# --- bootstrap create / list / revoke ---------------------------------------------------------
doc=$(hwca bootstrap create --node node-1 --ip 10.0.0.5 -o json)
token=$(jq -r .token <<<"$doc")
id=$(jq -r .id <<<"$doc")
created=$(jq -S -c 'del(.token)' <<<"$doc")
[[ $token =~ ^[a-z0-9]{6}\.[a-z0-9]{32}$ && ${token%%.*} == "$id" ]] || fail "bootstrap create -o json: $doc"
[[ $(jq -r '[.node, (.addresses | join(",")), .state, .usedAt] | join(" ")' <<<"$doc") == "node-1 10.0.0.5 valid " ]] ||
  fail "bootstrap create -o json: $doc"
doc=$(hwca bootstrap create --node node-2 -o yaml)
[[ $(yaml_to_json <<<"$doc" | jq -r '[.node, (.token | test("^[a-z0-9]{6}[.]"))] | join(" ")') == "node-2 true" ]] ||
  fail "bootstrap create -o yaml: $doc"
! grep -qF "${token#*.}" "$HWCA_HOME/audit.log" "$STDERR_LOG" || fail "the token's secret is in a log"
[[ $(hwca bootstrap list -o json | jq -S -c --arg id "$id" '.[] | select(.id == $id)') == "$created" ]] ||
  fail "bootstrap create and bootstrap list describe the token differently"
list=$(same_doc hwca bootstrap list)
[[ $(hwca bootstrap list --json | jq -S -c .) == "$(jq -S -c . <<<"$list")" ]] ||
  fail "bootstrap list --json (the hidden alias) differs from -o json"
doc=$(hwca bootstrap revoke "$id" -o json)
[[ $(jq -r '[.id, .state, (.revokedAt | test("Z$"))] | join(" ")' <<<"$doc") == "$id revoked true" ]] ||
  fail "bootstrap revoke -o json: $doc"

# --- ek-roots add / list / remove, node register / list / show / unregister / import ------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ekroot.key \
  -subj "/CN=EK maker root" -days 30 -addext "basicConstraints=critical,CA:TRUE" -out ekroot.pem 2>/dev/null
ek_root_sha=$(openssl x509 -in ekroot.pem -outform DER | sha256sum | cut -d' ' -f1)
doc=$(hwca ek-roots add ekroot.pem -o json)
[[ $(jq -r '[length, .[0].sha256, .[0].kind, .[0].subject] | join("|")' <<<"$doc") == "1|$ek_root_sha|anchor|CN=EK maker root" ]] ||
  fail "ek-roots add -o json: $doc"
doc=$(same_doc hwca ek-roots list)
[[ $(jq -r '.[0].sha256' <<<"$doc") == "$ek_root_sha" ]] || fail "ek-roots list -o json: $doc"
doc=$(hwca ek-roots remove "$ek_root_sha" -o yaml | yaml_to_json)
[[ $(jq -r .sha256 <<<"$doc") == "$ek_root_sha" ]] || fail "ek-roots remove -o yaml: $doc"
for n in 1 2 3; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "ek$n.key"
  openssl pkey -in "ek$n.key" -pubout -out "ek$n.pub"
done
ek_sha() { openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
doc=$(hwca node register --name worker-1 --ek-pub ek1.pub -o json)
[[ $(jq -r '[.node, .ekKind, .ekSha256, .ekSubject] | join(" ")' <<<"$doc") == "worker-1 public-key $(ek_sha ek1.pub) " ]] ||
  fail "node register -o json: $doc"
printf '%s\n' "nodes:" "  - {name: worker-2, ek-pub: ek2.pub}" "  - {name: worker-3, ek-pub: ek3.pub}" >fleet.yaml
doc=$(hwca node import --file fleet.yaml -o yaml | yaml_to_json)
[[ $(jq -r 'map([.node, .ekSha256] | join(" ")) | join(",")' <<<"$doc") == \
  "worker-2 $(ek_sha ek2.pub),worker-3 $(ek_sha ek3.pub)" ]] || fail "node import -o yaml: $doc"
doc=$(same_doc hwca node list)
[[ $(jq -r 'map(.node) | join(",")' <<<"$doc") == "worker-1,worker-2,worker-3" ]] || fail "node list -o json: $doc"
[[ $(hwca node list --json | jq -S -c .) == "$(jq -S -c . <<<"$doc")" ]] || fail "node list --json differs from -o json"
doc=$(same_doc hwca node show worker-2)
[[ $(jq -r '[.ekSha256, (.registeredAt | test("^[0-9-]{10}T[0-9:]{8}Z$"))] | join(" ")' <<<"$doc") == "$(ek_sha ek2.pub) true" ]] ||
  fail "node show -o json: $doc"
doc=$(hwca node unregister worker-3 -o json)
[[ $(jq -r .node <<<"$doc") == worker-3 ]] || fail "node unregister -o json: $doc"
no_stdout 3 "has no registered TPM" hwca node show worker-3 -o json

# --- audit verify -------------------------------------------------------------------------------
doc=$(same_doc hwca audit verify)
db=$HWCA_HOME/issuance.db
[[ $(jq -r '[.events, .head, .database.certificates, .database.revoked, .database.bootstrapTokens, .database.nodeTpms, .database.ekRoots, (.problems | length)] | join(" ")' <<<"$doc") == \
  "$(wc -l <"$HWCA_HOME/audit.log") $(tail -n 1 "$HWCA_HOME/audit.log" | tr -d '\n' | sha256sum | cut -d' ' -f1) $(sqlite3 "$db" 'SELECT count(*) FROM certs') 2 2 2 0 0" ]] ||
  fail "audit verify -o json: $doc"
# A problem: the whole document on standard output, the first problem as the error.
sqlite3 "$db" "UPDATE certs SET revoked_at = NULL, revocation_reason = NULL WHERE serial = '$web'"
expect_fail 6 "does not show it revoked" hwca audit verify -o json
[[ $(jq -r '.problems | length' "$WORK/.fail.out") == 1 ]] || fail "audit verify -o json with a problem: $(cat "$WORK/.fail.out")"
echo ok
