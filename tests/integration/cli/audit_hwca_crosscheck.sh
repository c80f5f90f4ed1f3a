#!/usr/bin/env bash
# `hwca audit verify` against the issuance database: every certificate and revocation the
# audit log records must be in the database. Rows removed, or a revocation undone, in the
# database are caught (exit 6); a recorded certificate without its audit line (a run that
# stopped between recording and auditing) is a note, not a failure.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
need sqlite3

export HWCA_HOME=$WORK/home
hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 --subject /CN=root >/dev/null
for name in a b; do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$name.key" \
    -subj "/CN=$name" -addext "subjectAltName=DNS:$name.example" -out "$WORK/$name.csr" 2>/dev/null
  hwca_pin sign --ca root --profile server --csr "$WORK/$name.csr" --out "$WORK/$name.pem" >/dev/null
done
serial_a=$(openssl x509 -in "$WORK/a.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
serial_b=$(openssl x509 -in "$WORK/b.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
hwca revoke --ca root "$serial_a" --reason keyCompromise >/dev/null

out=$(hwca audit verify) || fail "audit verify of an untouched home: $out"
assert_contains "$out" "3 certificates, each with its audit line" "audit verify"

db=$HWCA_HOME/issuance.db
cp -a "$HWCA_HOME" "$WORK/saved"
restore() { rm -rf "$HWCA_HOME" && cp -a "$WORK/saved" "$HWCA_HOME"; }

# A revocation undone in the database.
sqlite3 "$db" "UPDATE certs SET revoked_at = NULL, revocation_reason = NULL WHERE serial = '$serial_a'"
expect_fail 6 "records the revocation of certificate $serial_a of CA 'root', but the issuance database does not show it revoked" \
  hwca audit verify
restore

# A certificate's row removed.
sqlite3 "$db" "DELETE FROM certs WHERE serial = '$serial_b'"
expect_fail 6 "records certificate $serial_b of CA 'root', which the issuance database does not hold" \
  hwca audit verify
restore

# A recorded certificate whose audit line is missing (the run stopped before auditing it):
# cut the log back to the line before b's, which keeps the chain intact.
line_b=$(grep -n "\"serial\":\"$serial_b\"" "$HWCA_HOME/audit.log" | head -1 | cut -d: -f1)
head -n "$((line_b - 1))" "$WORK/saved/audit.log" >"$HWCA_HOME/audit.log"
out=$(hwca audit verify 2>"$WORK/note") || fail "a recorded but unaudited certificate failed audit verify"
assert_contains "$out" "3 certificates, 1 without an audit line" "audit verify"
assert_contains "$(cat "$WORK/note")" "certificate $serial_b of CA 'root' is recorded but has no audit line" "the note"
echo "ok"
