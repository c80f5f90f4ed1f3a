#!/usr/bin/env bash
# CRL numbers stay contiguous: a `hwca crl` that fails on the PIN (unset PIN source, wrong
# PIN), on a missing token or on the token's signature takes no number, so the next CRL is
# the previous + 1 (read by `openssl crl -text`). And `hwca revoke` names a serial as it was typed: "deadbeef" is
# stored as "00deadbeef", and the messages say both.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

export HWCA_HOME=$WORK/home

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 --subject /CN=numbers \
  >/dev/null
root=$HWCA_HOME/cas/root/cert.pem

# number FILE: the cRLNumber of a PEM CRL, as openssl reads it.
number() {
  openssl crl -in "$1" -noout -text | awk '/X509v3 CRL Number:/ { getline; gsub(/ /, ""); print }'
}
hwca_pin crl --ca root --out crl1.pem >/dev/null
[[ $(number crl1.pem) == 1 ]] || fail "crl1.pem is CRL #$(number crl1.pem), not 1"

unset HWCA_UNSET_PIN_VAR
expect_fail 4 "PIN source env:HWCA_UNSET_PIN_VAR names an unset variable" \
  hwca --pin-source env:HWCA_UNSET_PIN_VAR crl --ca root --out crl-x.pem
WRONG_FILE=$WORK/wrong-pin
(umask 077 && printf '%s\n' "$WRONG_PIN" >"$WRONG_FILE")
expect_fail 4 "PIN" hwca --pin-source "file:$WRONG_FILE" crl --ca root --out crl-x.pem
expect_fail 3 "no-module.so" env HWCA_PKCS11_MODULE="$WORK/no-module.so" \
  "$HWCA_BIN" --pin-source "file:$PIN_FILE" crl --ca root --out crl-x.pem
# The token fails the signature itself (tests/support/fault_pkcs11): the number taken is
# given back.
FAULT_MODULE=$HWCA_PROVIDER_DIR/hwca_fault_pkcs11.so
need "$FAULT_MODULE"
printf 'C_Sign CKR_DEVICE_ERROR\n' >"$WORK/faults"
expect_fail 5 "signing the CRL of CA 'root' failed" env HWCA_PKCS11_MODULE="$FAULT_MODULE" \
  HWCA_FAULT_PKCS11_CONTROL="$WORK/faults" "$HWCA_BIN" --pin-source "file:$PIN_FILE" \
  crl --ca root --out crl-x.pem
[[ ! -e crl-x.pem ]] || fail "a failed crl wrote crl-x.pem"

out=$(hwca_pin crl --ca root --out crl2.pem)
assert_contains "$out" "CRL #2 of CA 'root'" "crl after the failures"
[[ $(number crl2.pem) == 2 ]] || fail "crl2.pem is CRL #$(number crl2.pem), not 2"
openssl crl -in crl2.pem -noout -CAfile "$root" 2>&1 | grep -q "verify OK" || fail "crl2.pem does not verify"
numbers=$(grep '"crl.published"' "$HWCA_HOME/audit.log" | sed 's/.*"number":\([0-9]*\).*/\1/' | tr '\n' ' ')
[[ $numbers == "1 2 " ]] || fail "audited CRL numbers: $numbers"

# Serials as typed.
expect_fail 3 "no certificate with serial deadbeef (stored as 00deadbeef) issued by CA 'root'" \
  hwca revoke --ca root deadbeef
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout l.key -subj /CN=l \
  -addext "subjectAltName=DNS:l.example" -out l.csr 2>/dev/null
hwca_pin sign --ca root --profile server --csr l.csr --out l.pem >/dev/null
serial=$(openssl x509 -in l.pem -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
# Typed with leading zeros: both forms; as printed (any case, colons): the stored form alone.
out=$(hwca revoke --ca root "0x0000$serial")
[[ $out == "revoked 0x0000$serial (stored as $serial) (unspecified)" ]] || fail "revoke: $out"
expect_fail 6 "certificate 000$serial (stored as $serial) of CA 'root' was already revoked" \
  hwca revoke --ca root "000$serial"
upper=$(tr 'a-f' 'A-F' <<<"$serial" | sed 's/../&:/g; s/:$//')
expect_fail 6 "certificate $serial of CA 'root' was already revoked" hwca revoke --ca root "$upper"
root_serial=$(openssl x509 -in "$root" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
expect_fail 2 "certificate 00$root_serial (stored as $root_serial) is root CA 'root' itself" \
  hwca revoke --ca root "00$root_serial"

echo "crl_hwca_numbers: ok"
