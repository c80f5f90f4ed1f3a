#!/usr/bin/env bash
# `hwca revoke` and `hwca crl`: leaves issued by `hwca sign` under a root CA whose key is in
# the token are revoked; the CRLs (signed in the token) are checked by stock openssl and
# GnuTLS: signature, CRL number, next update, entries and reason codes, and `openssl verify
# -crl_check` refusing the revoked leaf only. The audit log holds every step; bad requests
# fail with one line and change nothing.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need certtool

export HWCA_HOME=$WORK/home

# Help texts name every option.
out=$(hwca revoke --help)
for word in "Usage: hwca revoke" "--ca NAME" SERIAL "--reason REASON" keyCompromise \
  cACompromise superseded certificateHold aACompromise "hwca crl" --with-renewals; do
  assert_contains "$out" "$word" "hwca revoke --help"
done
out=$(hwca crl --help)
for word in "Usage: hwca crl" "--ca NAME" "--days N" "--out FILE" --der "default 7"; do
  assert_contains "$out" "$word" "hwca crl --help"
done

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 \
  --subject "/CN=hwca crl test root/O=hwca" >/dev/null
root=$HWCA_HOME/cas/root/cert.pem

# issue NAME: NAME.pem, a server certificate from `hwca sign` for a fresh CSR.
issue() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
    -subj "/CN=$1" -addext "subjectAltName=DNS:$1.example" -out "$1.csr" 2>/dev/null
  hwca_pin sign --ca root --profile server --csr "$1.csr" --out "$1.pem" >/dev/null
  openssl verify -CAfile "$root" "$1.pem" >/dev/null || fail "openssl verify rejects $1.pem"
}
issue a
issue b
issue c
# The serials as openssl prints them (upper case) and as hwca stores them (lower case).
serial() { openssl x509 -in "$1.pem" -noout -serial | cut -d= -f2; }
serial_a=$(serial a) serial_b=$(serial b) serial_c=$(serial c)
lower() { tr 'A-F' 'a-f' <<<"$1"; }

# crl_ok FILE [-inform DER]: the CRL's signature verifies with the root (openssl and GnuTLS).
crl_ok() {
  local file=$1 out
  shift
  out=$(openssl crl -in "$file" "$@" -noout -verify -CAfile "$root" 2>&1) ||
    fail "openssl crl -verify $file: $out"
  [[ $out == *"verify OK"* && $out != *failure* ]] || fail "$file does not verify: $out"
  if [[ $# == 0 ]]; then
    out=$(certtool --verify-crl --load-ca-certificate "$root" --infile "$file" 2>&1) ||
      fail "certtool --verify-crl $file: $out"
    assert_contains "$out" "Verification output: Verified" "certtool --verify-crl $file"
  fi
}
# crl_number FILE [-inform DER]: the cRLNumber, in decimal.
crl_number() {
  local file=$1
  shift
  printf '%d' "$(openssl crl -in "$file" "$@" -noout -crlnumber | cut -d= -f2)"
}
# leaf_ok LEAF CRL / leaf_revoked LEAF CRL: what a relying party checking the CRL concludes.
leaf_ok() {
  local out
  out=$(openssl verify -crl_check -CAfile "$root" -CRLfile "$2" "$1.pem" 2>&1) ||
    fail "openssl verify -crl_check rejects $1 with $2: $out"
  [[ $out == "$1.pem: OK" ]] || fail "openssl verify -crl_check $1: $out"
}
leaf_revoked() {
  expect_ossl_fail "certificate revoked" openssl verify -crl_check -CAfile "$root" -CRLfile "$2" \
    "$1.pem"
}

# CRL #1, before any revocation: no entries, every leaf accepted.
out=$(hwca_pin crl --ca root --out crl1.pem)
[[ $out == "CRL #1 of CA 'root': 0 revoked, next update "*", written to crl1.pem" ]] ||
  fail "hwca crl --out: $out"
[[ $(stat -c %a crl1.pem) == 644 ]] || fail "crl1.pem is not mode 0644"
crl_ok crl1.pem
[[ $(crl_number crl1.pem) == 1 ]] || fail "crl1.pem: CRL number $(crl_number crl1.pem), expected 1"
[[ $(openssl crl -in crl1.pem -noout -text) == *"No Revoked Certificates."* ]] ||
  fail "crl1.pem lists revoked certificates"
leaf_ok a crl1.pem
leaf_ok b crl1.pem

# Revoke a (keyCompromise, typed as openssl prints it, with colons) and b (no reason:
# unspecified). The PIN is not needed for that.
serial_a_colons=$(sed 's/../&:/g; s/:$//' <<<"$serial_a")
out=$(hwca revoke --ca root "$serial_a_colons" --reason keyCompromise)
[[ $out == "revoked $(lower "$serial_a") (keyCompromise)" ]] || fail "hwca revoke a: $out"
out=$(hwca revoke --ca root "$(lower "$serial_b")")
[[ $out == "revoked $(lower "$serial_b") (unspecified)" ]] || fail "hwca revoke b: $out"

# CRL #2 on standard output (PEM only), with a one-day next update.
hwca_pin crl --ca root --days 1 >crl2.pem
[[ $(head -1 crl2.pem) == "-----BEGIN X509 CRL-----" && $(tail -1 crl2.pem) == "-----END X509 CRL-----" ]] ||
  fail "hwca crl printed more than the PEM CRL: $(cat crl2.pem)"
crl_ok crl2.pem
[[ $(crl_number crl2.pem) == 2 ]] || fail "crl2.pem: CRL number $(crl_number crl2.pem), expected 2"
last=$(date -d "$(openssl crl -in crl2.pem -noout -lastupdate | cut -d= -f2)" +%s)
next=$(date -d "$(openssl crl -in crl2.pem -noout -nextupdate | cut -d= -f2)" +%s)
((next - last == 86400)) || fail "crl2.pem: next update $((next - last)) s after the last"
text=$(openssl crl -in crl2.pem -noout -text)
assert_contains "$text" "Version 2 (0x1)" "crl2.pem"
assert_contains "$text" "Issuer: CN = hwca crl test root, O = hwca" "crl2.pem"
assert_contains "$text" "Signature Algorithm: ecdsa-with-SHA256" "crl2.pem"
root_ski=$(openssl x509 -in "$root" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' ')
crl_aki=$(grep -A1 "Authority Key Identifier" <<<"$text" | tail -1 | tr -d ' ' | sed 's/^keyid://')
[[ -n $root_ski && $crl_aki == "$root_ski" ]] || fail "crl2.pem: AKI $crl_aki is not the root's SKI $root_ski"
# entry SERIAL: the CRL text of one revoked certificate (up to the next entry).
entry() { awk -v s="Serial Number: $1" '$0 ~ /Serial Number:/ {on = index($0, s) > 0} /Signature Algorithm/ {on = 0} on' <<<"$text"; }
[[ $(entry "$serial_a") == *"X509v3 CRL Reason Code:"*"Key Compromise"* ]] ||
  fail "crl2.pem: a is not listed with keyCompromise: $(entry "$serial_a")"
[[ -n $(entry "$serial_b") && $(entry "$serial_b") != *"Reason Code"* ]] ||
  fail "crl2.pem: b must be listed without a reason code (unspecified): $(entry "$serial_b")"
[[ -z $(entry "$serial_c") ]] || fail "crl2.pem lists c, which was not revoked"
[[ $(grep -c "Serial Number:" <<<"$text") == 2 ]] || fail "crl2.pem: 2 entries expected"
leaf_revoked a crl2.pem
leaf_revoked b crl2.pem
leaf_ok c crl2.pem

# CRL #3 in DER, to a file.
out=$(hwca_pin crl --ca root --der --out crl3.der)
assert_contains "$out" "CRL #3 of CA 'root': 2 revoked" "hwca crl --der"
crl_ok crl3.der -inform DER
[[ $(crl_number crl3.der -inform DER) == 3 ]] || fail "crl3.der: CRL number, expected 3"

# The audit log: intact, with the revocations and the CRLs.
out=$(hwca audit verify)
assert_contains "$out" "the hash chain is intact" "audit verify"
log=$HWCA_HOME/audit.log
grep -q "\"event\":\"cert.revoked\".*" "$log" || fail "no cert.revoked line"
revoked_a=$(grep '"event":"cert.revoked"' "$log" | grep "\"serial\":\"$(lower "$serial_a")\"")
assert_contains "$revoked_a" '"reason":"keyCompromise"' "the audit line of a's revocation"
assert_contains "$revoked_a" '"ca":"root"' "the audit line of a's revocation"
assert_contains "$revoked_a" "\"requester\":\"cli:uid=$(id -u)\"" "the audit line of a's revocation"
[[ $(grep -c '"event":"cert.revoked"' "$log") == 2 ]] || fail "2 cert.revoked lines expected"
[[ $(grep -c '"event":"crl.published"' "$log") == 3 ]] || fail "3 crl.published lines expected"
crl3_sha=$(sha256sum crl3.der | cut -d' ' -f1)
grep '"event":"crl.published"' "$log" | tail -1 | grep -q "\"sha256\":\"$crl3_sha\"" ||
  fail "the last crl.published line does not carry crl3.der's SHA-256"
grep '"event":"crl.published"' "$log" | tail -1 | grep -q '"number":3' ||
  fail "the last crl.published line is not CRL #3"

# Bad requests: one line, the right code, nothing changed in the home.
before=$(home_state)
expect_fail 3 "no CA named 'nosuch'" hwca revoke --ca nosuch "$serial_c"
root_serial=$(openssl x509 -in "$HWCA_HOME/cas/root/cert.pem" -noout -serial | cut -d= -f2)
expect_fail 2 "a root cannot revoke itself" hwca revoke --ca root "$root_serial"
expect_fail 3 "see 'hwca ca list'" hwca_pin crl --ca nosuch
expect_fail 3 "no certificate with serial 0badbeef issued by CA 'root'" hwca revoke --ca root 0BADBEEF
expect_fail 6 "certificate $(lower "$serial_a") of CA 'root' was already revoked at" \
  hwca revoke --ca root "$serial_a"
assert_contains "$LAST_ERR" "(keyCompromise)" "double revocation"
expect_fail 2 "'bogus' is not an RFC 5280 revocation reason; use one of: unspecified, keyCompromise" \
  hwca revoke --ca root "$serial_c" --reason bogus
expect_fail 2 "delta CRLs" hwca revoke --ca root "$serial_c" --reason removeFromCRL
expect_fail 2 "not an RFC 5280 revocation reason" hwca revoke --ca root "$serial_c" --reason 7
expect_fail 2 "not a serial number in hex" hwca revoke --ca root "zz:01"
expect_fail 2 "--days" hwca_pin crl --ca root --days 0
expect_fail 2 "--days" hwca_pin crl --ca root --days 3651
expect_fail 3 "cannot write $WORK/nodir/crl.pem" hwca_pin crl --ca root --out "$WORK/nodir/crl.pem"
after=$(home_state)
[[ $before == "$after" ]] || fail "a refused request changed the home"
leaf_ok c crl2.pem  # c stays valid

# An unknown CA in a home without a database does not create one.
mkdir -m 700 "$WORK/fresh"
cp "$HWCA_HOME/config.yaml" "$WORK/fresh/"
HWCA_HOME=$WORK/fresh expect_fail 3 "no CA named 'nosuch'" hwca revoke --ca nosuch 01
[[ ! -e $WORK/fresh/issuance.db ]] || fail "revoking under an unknown CA created a database"

# An intermediate's certificate is recorded under its parent: revoking it there stops it
# from signing, and a relying party checking every CRL of the chain refuses its leaves.
hwca_pin ca init --name sub --key "$(key_uri sub)" --generate ec-p256 \
  --subject "/CN=hwca crl test sub" --parent root >/dev/null
sub=$HWCA_HOME/cas/sub/cert.pem
hwca_pin sign --ca sub --profile server --csr c.csr --out c-sub.pem >/dev/null
out=$(hwca revoke --ca root "$(openssl x509 -in "$sub" -noout -serial | cut -d= -f2)" \
  --reason cACompromise)
assert_contains "$out" "(cACompromise)" "hwca revoke of the intermediate"
expect_fail 6 "revoked" hwca_pin sign --ca sub --profile server --csr c.csr --out c-sub2.pem
hwca_pin crl --ca root --out root.crl >/dev/null
hwca_pin crl --ca sub --out sub.crl >/dev/null
out=$(openssl verify -crl_check -CAfile "$root" -untrusted "$sub" -CRLfile sub.crl c-sub.pem 2>&1) ||
  fail "the leaf of sub is refused by sub's own CRL: $out"
expect_ossl_fail "certificate revoked" openssl verify -crl_check_all -CAfile "$root" \
  -untrusted "$sub" -CRLfile root.crl -CRLfile sub.crl c-sub.pem
[[ $(openssl crl -in root.crl -noout -text) == *"CA Compromise"* ]] ||
  fail "root.crl does not give the intermediate's reason"

echo "ok: revocations and CRLs signed in the token, checked by openssl and GnuTLS"
