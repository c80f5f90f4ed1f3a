#!/usr/bin/env bash
# `hwca audit verify` against the issuance database, both ways: every certificate and
# revocation the audit log records must be in the database, and every certificate,
# revocation and bootstrap token of the database must have its line. Rows removed, a
# revocation undone, the log's tail cut off, a chain started anew, a token row inserted
# behind hwca's back: each is caught (exit 6, listed). A certificate recorded but never
# audited (hwca killed between the two) fails verify until it is revoked; a log that cannot
# be written when one is signed leaves nothing issued.
# And `hwca serve` does not start a new chain over a database that has records, nor
# continue a log truncated under it.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=est_lib.sh
source "$here/est_lib.sh"
need sqlite3 curl jq

export HWCA_HOME=$WORK/home
_audit_exit() {
  local rc=$?
  set +e
  est_serve_stop
  est_serve_logs
  (exit "$rc")
  _cleanup
}
trap _audit_exit EXIT

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 --subject /CN=root >/dev/null
for name in a b; do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/$name.key" \
    -subj "/CN=$name" -addext "subjectAltName=DNS:$name.example" -out "$WORK/$name.csr" 2>/dev/null
  hwca_pin sign --ca root --profile server --csr "$WORK/$name.csr" --out "$WORK/$name.pem" >/dev/null
done
serial_a=$(openssl x509 -in "$WORK/a.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
serial_b=$(openssl x509 -in "$WORK/b.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
hwca revoke --ca root "$serial_a" --reason keyCompromise >/dev/null
token=$(hwca bootstrap create --node n1 2>/dev/null)
token_id=${token%%.*}

out=$(hwca audit verify) || fail "audit verify of an untouched home: $out"
assert_contains "$out" "3 certificates (1 revoked), 1 bootstrap tokens" "audit verify"
assert_contains "$out" "every certificate, revocation and bootstrap token is accounted for" "audit verify"

db=$HWCA_HOME/issuance.db
log=$HWCA_HOME/audit.log
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

# The log's tail cut from the first cert.revoked on (the chain that is left is intact):
# the revocation, and the token made after it, have no line (before: exit 0, "intact").
first_revoked=$(grep -n '"event":"cert.revoked"' "$log" | head -1 | cut -d: -f1)
head -n "$((first_revoked - 1))" "$WORK/saved/audit.log" >"$log"
rc=0
out=$(hwca audit verify 2>"$WORK/err") || rc=$?
((rc == 6)) || fail "a log cut from its first cert.revoked: audit verify exited $rc: $out"
assert_contains "$out" "unaccounted: the revocation of certificate $serial_a of CA 'root' is in the issuance database, but the audit log has no cert.revoked line" "audit verify's list"
assert_contains "$out" "unaccounted: bootstrap token '$token_id' for node 'n1' is in the issuance database, but the audit log has no bootstrap.created line" "audit verify's list"
[[ $(wc -l <"$WORK/err") == 1 ]] || fail "audit verify's stderr: $(cat "$WORK/err")"
assert_contains "$(cat "$WORK/err")" "(and 1 more problems, listed on standard output)" "audit verify's stderr"
restore

# A bootstrap token row inserted directly into the database.
sqlite3 "$db" "INSERT INTO bootstrap_tokens (id, node, secret_sha256, addresses, created_at, expires_at, created_by)
  VALUES ('zz9zz9', 'intruder', randomblob(32), '[]', strftime('%s'), strftime('%s') + 3600, 'cli:uid=0')"
expect_fail 6 "bootstrap token 'zz9zz9' for node 'intruder' is in the issuance database, but the audit log has no bootstrap.created line" \
  hwca audit verify
restore

# A chain started anew over the database (the log emptied, then a certificate signed).
: >"$log"
hwca_pin sign --ca root --profile server --csr "$WORK/b.csr" --out "$WORK/b2.pem" >/dev/null
expect_fail 6 "is in the issuance database, but no audit line accounts for it" hwca audit verify
rc=0
out=$(hwca audit verify 2>/dev/null) || rc=$?
((rc == 6)) || fail "a chain started anew: audit verify exited $rc"
for s in "$serial_a" "$serial_b"; do
  assert_contains "$out" "unaccounted: certificate $s of CA 'root'" "audit verify's list"
done
assert_contains "$out" "unaccounted: bootstrap token '$token_id'" "audit verify's list"
restore

# An audit log that cannot be written (a directory in its place) when c is signed: the
# room for its line is taken before the database records it, so nothing is issued.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/c.key" \
  -subj "/CN=c" -addext "subjectAltName=DNS:c.example" -out "$WORK/c.csr" 2>/dev/null
mv "$log" "$log.saved" && mkdir "$log"
EXPECT_FAIL_IGNORE='^$' expect_fail 7 "nothing issued: no room for its audit line" \
  hwca_pin sign --ca root --profile server --csr "$WORK/c.csr" --out "$WORK/c.pem"
rmdir "$log" && mv "$log.saved" "$log"
[[ ! -e $WORK/c.pem ]] || fail "a certificate was written although it could not be audited"
[[ -z $(sqlite3 "$db" "SELECT serial FROM certs WHERE subject = 'CN=c'") ]] ||
  fail "c was recorded although its audit line had no room"

# A certificate recorded but not audited (hwca killed between the database's commit and the
# audit append; here its line is taken off the log's end): verify fails naming it, with the
# advice to revoke it; once revoked (the revocation's line accounts for it) verify passes.
cp -p "$log" "$log.before"
hwca_pin sign --ca root --profile server --csr "$WORK/c.csr" --out "$WORK/c.pem" >/dev/null
mv "$log.before" "$log"
serial_c=$(sqlite3 "$db" "SELECT serial FROM certs WHERE subject = 'CN=c'")
[[ -n $serial_c ]] || fail "c was not recorded"
expect_fail 6 "certificate $serial_c of CA 'root' (CN=c) is in the issuance database, but no audit line accounts for it (if it was never handed out, revoke it: 'hwca revoke --ca root $serial_c')" \
  hwca audit verify
hwca revoke --ca root "$serial_c" >/dev/null
out=$(hwca audit verify) || fail "a revoked, never audited certificate still fails audit verify: $out"
assert_contains "$out" "1 certificates have no cert.issued line but were revoked (never handed out)" "audit verify"
restore

# hwca serve does not start a new chain over the database: an empty log, a missing one.
for how in empty missing; do
  if [[ $how == empty ]]; then : >"$log"; else rm -f "$log"; fi
  EXPECT_FAIL_IGNORE='^$' expect_fail 6 "holds certificates or bootstrap tokens: audit log $log is $how" \
    "$HWCA_BIN" --pin-source "file:$PIN_FILE" serve --ca root --listen 127.0.0.1:0
  if [[ $how == empty ]]; then [[ ! -s $log ]] || fail "serve wrote to the empty log"; fi
  if [[ $how == missing ]]; then [[ ! -e $log ]] || fail "serve created the missing log"; fi
  restore
done

# The log truncated while the server runs: an enrollment is an outage (503, Retry-After),
# nothing is written (no chain restarted at seq 1), and the server's log says why.
est_serve_start
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/n1.key" \
  -subj "/O=system:nodes/CN=system:node:n1" -outform DER -out "$WORK/n1.der" 2>/dev/null
base64 -w 64 "$WORK/n1.der" >"$WORK/n1.b64"
: >"$log"
code=$(curl -sS --max-time 20 --cacert "$HWCA_HOME/cas/root/cert.pem" -u "n1:$token" \
  -H "Content-Type: application/pkcs10" --data-binary @"$WORK/n1.b64" -D "$WORK/n1.hdr" \
  -o "$WORK/n1.body" -w '%{http_code}' "https://127.0.0.1:$PORT/.well-known/est/simpleenroll")
[[ $code == 503 ]] || fail "an enrollment after the log was truncated: $code $(cat "$WORK/n1.body")"
grep -qi '^retry-after: 30' "$WORK/n1.hdr" || fail "the 503 has no Retry-After"
[[ $(cat "$WORK/n1.body") == "the CA cannot issue now; retry later" ]] ||
  fail "the 503 says: $(cat "$WORK/n1.body")"
[[ ! -s $log ]] || fail "the server restarted the chain: $(head -c 300 "$log")"
est_serve_stop
[[ ! -s $log ]] || fail "the server wrote to the truncated log at its stop: $(head -c 300 "$log")"
assert_contains "$(cat "$SERVE_ERR")" "(503, io)" "serve's stderr"
assert_contains "$(cat "$SERVE_ERR")" "was cut or replaced while hwca ran" "serve's stderr"
echo "ok"
