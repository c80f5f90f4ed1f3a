#!/usr/bin/env bash
# Subjects: "/O=Example/CN=x" (OpenSSL's -subj order, most significant first) and
# "CN=x,O=Example" (RFC 4514, most significant last) make the same DER; hwca prints RFC 4514
# (`ca show`, `ca list`, `ca init`, `sign`, `cert show`, `cert list`) exactly as
# `openssl x509 -nameopt RFC2253` does, and what it prints, pasted back into
# `ca init --subject`, gives the same DER order (`-nameopt oneline` follows the DER).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

export HWCA_HOME=$WORK/home

# name FILE FORMAT: the certificate's subject as `openssl x509 -nameopt FORMAT` prints it.
name() { openssl x509 -in "$1" -noout -subject -nameopt "$2" | sed 's/^subject=//'; }
cert() { printf '%s' "$HWCA_HOME/cas/$1/cert.pem"; }
shown() { hwca ca show "$1" | sed -n 's/^subject: *//p'; }
# same_der A B: the two CAs' subjects have the same DER (in the same order).
same_der() {
  [[ $(name "$(cert "$1")" oneline) == "$(name "$(cert "$2")" oneline)" &&
    $(openssl x509 -in "$(cert "$1")" -noout -subject_hash) == \
    $(openssl x509 -in "$(cert "$2")" -noout -subject_hash) ]] ||
    fail "$1 and $2 differ: $(name "$(cert "$1")" oneline) / $(name "$(cert "$2")" oneline)"
}
init() {  # init NAME SUBJECT: a root CA; prints what ca init printed
  hwca_pin ca init --name "$1" --key "$(key_uri "$1")" --generate ec-p256 --subject "$2" |
    grep "CA '$1' created"
}

# RFC 4514 input: the last RDN is the most significant, first in the DER.
out=$(init rfc 'O=Example,CN=x')
assert_contains "$out" "created: O=Example,CN=x" "ca init rfc"
[[ $(name "$(cert rfc)" oneline) == "CN = x, O = Example" ]] || fail "rfc: DER order $(name "$(cert rfc)" oneline)"
[[ $(name "$(cert rfc)" RFC2253) == "O=Example,CN=x" ]] || fail "rfc: $(name "$(cert rfc)" RFC2253)"
[[ $(shown rfc) == "O=Example,CN=x" ]] || fail "ca show rfc: $(shown rfc)"

# OpenSSL's slash form: the first RDN is the most significant.
out=$(init slash '/O=Example/CN=x')
assert_contains "$out" "created: CN=x,O=Example" "ca init slash"
[[ $(name "$(cert slash)" oneline) == "O = Example, CN = x" ]] || fail "slash: DER order $(name "$(cert slash)" oneline)"
[[ $(shown slash) == "$(name "$(cert slash)" RFC2253)" ]] || fail "ca show slash: $(shown slash)"
init comma 'CN=x,O=Example' >/dev/null
same_der slash comma

# What hwca prints, pasted back, gives the same DER, escapes and UTF-8 included.
init back1 "$(shown rfc)" >/dev/null
same_der rfc back1
# UTF-8, '+', ',', an escaped '/', a leading '#' and an '=' in values.
init tricky "$(printf '/C=DE/O=Caf\xc3\xa9 + Co, Ltd./OU=a\\/b/CN=#1 = x')" >/dev/null
printed=$(shown tricky)
[[ $printed == "$(name "$(cert tricky)" RFC2253)" ]] || fail "ca show tricky: $printed"
init back2 "$printed" >/dev/null
same_der tricky back2
[[ $(shown back2) == "$printed" ]] || fail "ca show back2: $(shown back2), not $printed"
listed=$(hwca ca list | grep '^back2 ')
assert_contains "$listed" "$printed" "ca list"

# A multi-valued RDN is refused, not read as one value.
expect_fail 2 "multi-valued RDN" hwca_pin ca init --name mv --key "$(key_uri mv)" --subject 'CN=a+O=b'
expect_fail 2 "ends with a backslash" hwca_pin ca init --name mv --key "$(key_uri mv)" --subject 'CN=a\'
expect_fail 2 "is not NAME=value" hwca_pin ca init --name mv --key "$(key_uri mv)" --subject 'CN=a,,O=b'

# Issued certificates: the request's order is kept, and sign, cert show and cert list print
# it as openssl's RFC 2253 does.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout l.key \
  -subj "/O=Example/OU=Web/CN=leaf" -addext "subjectAltName=DNS:leaf.example" -out l.csr 2>/dev/null
out=$(hwca_pin sign --ca rfc --profile server --csr l.csr --out l.pem)
want=$(name l.pem RFC2253)
[[ $want == "CN=leaf,OU=Web,O=Example" ]] || fail "l.pem: $want"
assert_contains "$out" "to $want, valid" "sign"
serial=$(openssl x509 -in l.pem -noout -serial | cut -d= -f2)
grep -qxE "subject: +$want" <<<"$(hwca cert show "$serial")" || fail "cert show: $(hwca cert show "$serial")"
assert_contains "$(hwca cert list --ca rfc)" "$want" "cert list"
[[ $(openssl x509 -in l.pem -noout -issuer -nameopt RFC2253) == "issuer=O=Example,CN=x" ]] ||
  fail "l.pem issuer: $(openssl x509 -in l.pem -noout -issuer -nameopt RFC2253)"

echo "dn_hwca_roundtrip: ok"
