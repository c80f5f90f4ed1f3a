#!/usr/bin/env bash
# `hwca cert inspect FILE`: certificates (one, or a chain), requests and CRLs, PEM and DER,
# told apart by content, with no home, token or PIN. Each -o json document is checked field
# by field against what openssl says of the same file, and -o yaml against -o json; bad files
# fail with one line and exit 2 (3 when missing, 7 when unreadable).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# Made by openssl alone: a root with pathlen 1 and a leaf with every extension inspect shows.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key \
  -subj "/CN=inspect root/O=hwca" -days 30 -addext "basicConstraints=critical,CA:TRUE,pathlen:1" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" -out root.pem 2>/dev/null
openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -subj "/CN=leaf.example/O=dev" \
  -addext "subjectAltName=DNS:leaf.example,IP:10.0.0.7,IP:fd00::7,URI:spiffe://x/y" \
  -addext "keyUsage=critical,digitalSignature,keyEncipherment" \
  -addext "extendedKeyUsage=serverAuth,clientAuth" -out leaf.csr 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "subjectKeyIdentifier=hash" \
  "authorityKeyIdentifier=keyid" >leaf.ext
openssl x509 -req -in leaf.csr -CA root.pem -CAkey root.key -set_serial 0x0a1b2c -days 7 \
  -copy_extensions copy -extfile leaf.ext -out leaf.pem 2>/dev/null
openssl x509 -in leaf.pem -outform DER -out leaf.der
openssl req -in leaf.csr -outform DER -out leaf.csr.der
cat leaf.pem root.pem >chain.pem

# No home, token or PIN: the home named is never made.
export HWCA_HOME=$WORK/nohome
unset HWCA_PKCS11_MODULE

# openssl's view of a certificate file.
ossl_time() { date -u -d "$(openssl x509 -in "$1" -noout "-$2" | cut -d= -f2)" +%Y-%m-%dT%H:%M:%SZ; }
ossl_ext() { openssl x509 -in "$1" -noout -ext "$2" 2>/dev/null | tail -n +2 | sed 's/^ *//; s/^keyid://'; }
# check_cert JSON FILE: the description matches openssl's reading of FILE (PEM).
check_cert() {
  local doc=$1 file=$2 want got
  want=$(openssl x509 -in "$file" -noout -serial | cut -d= -f2)
  [[ $(jq -r .serial <<<"$doc") == "${want,,}" ]] || fail "$file: serial $(jq -r .serial <<<"$doc"), openssl $want"
  want=$(openssl x509 -in "$file" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
  [[ $(jq -r .subject <<<"$doc") == "$want" ]] || fail "$file: subject $(jq -r .subject <<<"$doc"), openssl $want"
  want=$(openssl x509 -in "$file" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')
  [[ $(jq -r .issuer <<<"$doc") == "$want" ]] || fail "$file: issuer, openssl $want"
  [[ $(jq -r .notBefore <<<"$doc") == "$(ossl_time "$file" startdate)" ]] || fail "$file: notBefore"
  [[ $(jq -r .notAfter <<<"$doc") == "$(ossl_time "$file" enddate)" ]] || fail "$file: notAfter"
  want=$(openssl x509 -in "$file" -noout -fingerprint -sha256 | cut -d= -f2)
  [[ $(jq -r .sha256 <<<"$doc") == "$want" ]] || fail "$file: sha256, openssl $want"
  want=$(openssl x509 -in "$file" -noout -pubkey | pub_digest)
  [[ $(jq -r .publicKeySha256 <<<"$doc") == "$want" ]] || fail "$file: publicKeySha256"
  want=$(ossl_ext "$file" subjectKeyIdentifier)
  got=$(jq -r '.subjectKeyId // ""' <<<"$doc")
  [[ $got == "$want" ]] || fail "$file: subjectKeyId $got, openssl $want"
  # SANs: openssl writes "IP Address:FD00:0:0:0:0:0:0:7"; both sides normalised.
  want=$(ossl_ext "$file" subjectAltName)
  python3 - "$want" "$(jq -c .sans <<<"$doc")" <<'EOF' || fail "$file: SANs differ from openssl's"
import ipaddress, json, sys
def norm(s):
    kind, _, value = s.partition(":")
    if kind in ("IP", "IP Address"):
        return "IP:" + str(ipaddress.ip_address(value))
    return kind + ":" + value
want = [norm(s.strip()) for s in sys.argv[1].split(",") if s.strip()]
got = [norm(s) for s in json.loads(sys.argv[2])]
sys.exit(0 if want == got else 1)
EOF
}

# --- one certificate, PEM and DER (and standard input) ------------------------------------
doc=$(same_doc hwca cert inspect leaf.pem)
[[ $(jq -r '[.encoding, (.items | length), .items[0].kind] | join(" ")' <<<"$doc") == "pem 1 certificate" ]] ||
  fail "inspect leaf.pem: $doc"
leaf=$(jq .items[0] <<<"$doc")
check_cert "$leaf" leaf.pem
[[ $(jq -c '[.keyType, .keyUsage, .extendedKeyUsage, .basicConstraints]' <<<"$leaf") == \
  '["rsa-2048",["digitalSignature","keyEncipherment"],["serverAuth","clientAuth"],{"ca":false,"pathLength":null}]' ]] ||
  fail "inspect leaf.pem extensions: $leaf"
assert_contains "$(openssl x509 -in leaf.pem -noout -ext keyUsage,extendedKeyUsage)" \
  "Digital Signature, Key Encipherment" "openssl's key usage"
[[ $(jq -r .authorityKeyId <<<"$leaf") == "$(ossl_ext root.pem subjectKeyIdentifier)" ]] ||
  fail "the leaf's authorityKeyId is not the root's subjectKeyIdentifier: $leaf"
[[ $(jq -r .items[0].serial <<<"$doc") == 0a1b2c ]] || fail "serial as typed to cert show: $doc"
der=$(same_doc hwca cert inspect leaf.der)
[[ $(jq -r .encoding <<<"$der") == der && $(jq -c .items <<<"$der") == "$(jq -c .items <<<"$doc")" ]] ||
  fail "inspect leaf.der describes another certificate than leaf.pem: $der"
[[ $(hwca cert inspect - -o json <leaf.der | jq -c .items) == "$(jq -c .items <<<"$doc")" ]] ||
  fail "inspect - (DER on standard input)"
[[ ! -e $HWCA_HOME ]] || fail "cert inspect made a home"

# Text: the fields people look for.
out=$(hwca cert inspect leaf.pem)
for word in "kind:" "certificate" "subject:" "CN=leaf.example" "serial:" 0a1b2c "not after:" \
  "sans:" "DNS:leaf.example, IP:10.0.0.7, IP:fd00::7, URI:spiffe://x/y" \
  "key usage:" "digitalSignature, keyEncipherment" "extended key usage:" "serverAuth, clientAuth" \
  "basic constraints:" "ca no" "subject key id:" "authority key id:" "sha256:" "key type:"; do
  assert_contains "$out" "$word" "cert inspect leaf.pem"
done

# --- a chain: every certificate, in order --------------------------------------------------
doc=$(same_doc hwca cert inspect chain.pem)
[[ $(jq '.items | length' <<<"$doc") == 2 ]] || fail "inspect chain.pem: $doc"
check_cert "$(jq .items[0] <<<"$doc")" leaf.pem
check_cert "$(jq .items[1] <<<"$doc")" root.pem
[[ $(jq -c '.items[1] | [.keyType, .basicConstraints, .keyUsage]' <<<"$doc") == \
  '["ec-p256",{"ca":true,"pathLength":1},["keyCertSign","cRLSign"]]' ]] || fail "the root: $doc"
cat leaf.der <(openssl x509 -in root.pem -outform DER) >chain.der
[[ $(hwca cert inspect chain.der -o json | jq -c .items) == "$(jq -c .items <<<"$doc")" ]] ||
  fail "inspect chain.der (DER back to back)"
out=$(hwca cert inspect chain.pem)
[[ $(grep -c '^serial:' <<<"$out") == 2 ]] || fail "cert inspect chain.pem text: $out"

# --- a request, PEM and DER; a damaged signature is reported, not refused ------------------
doc=$(same_doc hwca cert inspect leaf.csr)
csr=$(jq .items[0] <<<"$doc")
[[ $(jq -r '[.kind, .subject, .keyType, .signatureValid] | join(" ")' <<<"$csr") == \
  "certificateRequest $(openssl req -in leaf.csr -noout -subject -nameopt RFC2253 | sed 's/^subject=//') rsa-2048 true" ]] ||
  fail "inspect leaf.csr: $csr"
[[ $(jq -c '[.sans, .requestedExtensions]' <<<"$csr") == \
  '[["DNS:leaf.example","IP:10.0.0.7","IP:fd00::7","URI:spiffe://x/y"],["subjectAltName","keyUsage","extendedKeyUsage"]]' ]] ||
  fail "inspect leaf.csr extensions: $csr"
[[ $(jq -r .publicKeySha256 <<<"$csr") == "$(openssl req -in leaf.csr -noout -pubkey | pub_digest)" ]] ||
  fail "inspect leaf.csr key"
[[ $(hwca cert inspect leaf.csr.der -o json | jq -c .items) == "$(jq -c .items <<<"$doc")" ]] ||
  fail "inspect leaf.csr.der"
# The last octet is the signature's: flipped, the request still parses but does not verify.
python3 -c 'import sys; d = bytearray(open(sys.argv[1], "rb").read()); d[-1] ^= 1; open(sys.argv[2], "wb").write(d)' \
  leaf.csr.der bad-sig.csr.der
[[ $(hwca cert inspect bad-sig.csr.der -o json | jq .items[0].signatureValid) == false ]] ||
  fail "a request whose signature is damaged is shown as valid"
assert_contains "$(hwca cert inspect leaf.csr)" "signature valid:      yes" "cert inspect leaf.csr"

# --- a CRL of hwca's, PEM and DER ---------------------------------------------------------
export HWCA_HOME=$WORK/home HWCA_PKCS11_MODULE=$SOFTHSM_MODULE
hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 --subject "/CN=crl root" >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout a.key -subj /CN=a \
  -out a.csr 2>/dev/null
hwca_pin sign --ca root --profile client --csr a.csr --out a.pem >/dev/null
serial=$(openssl x509 -in a.pem -noout -serial | cut -d= -f2)
hwca revoke --ca root "$serial" --reason keyCompromise >/dev/null
hwca_pin crl --ca root --out crl.pem >/dev/null
hwca_pin crl --ca root --der --out crl.der >/dev/null
doc=$(same_doc hwca cert inspect crl.pem)
crl=$(jq .items[0] <<<"$doc")
ossl_crl() { openssl crl -in crl.pem -noout "$@" | cut -d= -f2; }
[[ $(jq -r '[.kind, .issuer, .number] | join("|")' <<<"$crl") == \
  "crl|$(openssl crl -in crl.pem -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')|$(printf '%d' "$(ossl_crl -crlnumber)")" ]] ||
  fail "inspect crl.pem: $crl"
[[ $(jq -r .nextUpdate <<<"$crl") == "$(date -u -d "$(ossl_crl -nextupdate)" +%Y-%m-%dT%H:%M:%SZ)" ]] ||
  fail "inspect crl.pem nextUpdate: $crl"
[[ $(jq -r .thisUpdate <<<"$crl") == "$(date -u -d "$(ossl_crl -lastupdate)" +%Y-%m-%dT%H:%M:%SZ)" ]] ||
  fail "inspect crl.pem thisUpdate: $crl"
[[ $(jq -r '.revoked | map([.serial, .reason, .reasonCode] | join(" ")) | join(",")' <<<"$crl") == \
  "${serial,,} keyCompromise 1" ]] || fail "inspect crl.pem entries: $crl"
assert_contains "$(openssl crl -in crl.pem -noout -text)" "Key Compromise" "openssl crl -text"
revoked_at=$(openssl crl -in crl.pem -noout -text | sed -n 's/^ *Revocation Date: //p')
[[ $(jq -r .revoked[0].revokedAt <<<"$crl") == "$(date -u -d "$revoked_at" +%Y-%m-%dT%H:%M:%SZ)" ]] ||
  fail "inspect crl.pem revocation date: $crl"
doc=$(same_doc hwca cert inspect crl.der)
[[ $(jq -r '[.encoding, .items[0].kind, .items[0].number] | join(" ")' <<<"$doc") == \
  "der crl $(printf '%d' "$(openssl crl -in crl.der -inform DER -noout -crlnumber | cut -d= -f2)")" ]] ||
  fail "inspect crl.der: $doc"
out=$(hwca cert inspect crl.pem)
for word in "kind:" "crl" "this update:" "next update:" "revoked:" "${serial,,}  keyCompromise"; do
  assert_contains "$out" "$word" "cert inspect crl.pem"
done

# --- bad files: one line, nothing on standard output ---------------------------------------
echo "just text" >junk.txt
printf '\x30\x03\x02\x01' >short.der
sed '2s/./#/' leaf.pem >damaged.pem
: >empty
for f in junk.txt short.der leaf.key damaged.pem empty; do
  expect_fail 2 "$f: not a certificate, CSR or CRL (PEM or DER)" hwca cert inspect "$f" -o json
  [[ ! -s $WORK/.fail.out ]] || fail "inspect $f printed on standard output: $(cat "$WORK/.fail.out")"
done
expect_fail 3 "nothing.pem" hwca cert inspect nothing.pem
mkdir folder.pem
expect_fail 7 "folder.pem" hwca cert inspect folder.pem
expect_fail 2 "--output" hwca cert inspect leaf.pem -o xml
echo ok
