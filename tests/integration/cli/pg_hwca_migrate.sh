#!/usr/bin/env bash
# hwca db migrate: an SQLite home with every kind of record (certificates, one revoked and
# renewed, a CRL, bootstrap tokens used, revoked and valid, a node TPM, an EK root, two CAs)
# moves to an empty database on the tests' PostgreSQL server (ctest's fixture 'postgres'):
# every table's rows are there with all their columns (compared with sqlite3 and psql), the
# audit chain's lines are the log's byte for byte and 'hwca audit verify' passes from the
# database, the listings read the same before and after, and the home carries on (the next
# serial and CRL number). Refused, with the home left as it was: a database that holds
# records, a URL with a password, a file another process is writing, an audit log that does
# not verify, a home on PostgreSQL.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[[ -n ${HWCA_TEST_PG_DIR:-} && -f ${HWCA_TEST_PG_DIR:-}/port ]] ||
  fail "no PostgreSQL server: run under ctest (the 'postgres' fixture sets HWCA_TEST_PG_DIR)"
need psql sqlite3 jq
port=$(cat "$HWCA_TEST_PG_DIR/port")
admin="host=$HWCA_TEST_PG_DIR port=$port user=hwca dbname=postgres"
dbs=()
new_db() {  # a new empty database; prints its URL
  local db=t_mig_$$_${#dbs[@]}_$RANDOM
  psql -qX "$admin" -c "CREATE DATABASE $db" >/dev/null || fail "cannot create database $db"
  dbs+=("$db")
  printf 'postgresql:///%s?host=%s&port=%s&user=hwca' "$db" \
    "$(printf '%s' "$HWCA_TEST_PG_DIR" | sed 's|/|%2F|g')" "$port"
}
cleanup_hook() {
  for db in "${dbs[@]}"; do
    psql -qX "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  done
}
sql() { psql -qAtX "$1" -c "$2"; }

# The SQLite home and its records.
export HWCA_HOME=$WORK/home
hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 --subject /CN=root >/dev/null
hwca_pin ca init --name sub --parent root --key "$(key_uri sub)" --generate ec-p256 \
  --subject /CN=sub >/dev/null
for i in 1 2 3; do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/l$i.key" \
    -subj "/CN=leaf$i.example" -addext "subjectAltName=DNS:leaf$i.example,IP:10.0.0.$i" \
    -out "$WORK/l$i.csr" 2>/dev/null
  hwca_pin sign --ca sub --profile server --csr "$WORK/l$i.csr" --days 2 --out "$WORK/l$i.pem" >/dev/null
done
s1=$(openssl x509 -in "$WORK/l1.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
hwca revoke --ca sub "$s1" --reason superseded >/dev/null
hwca_pin crl --ca sub --out "$WORK/crl1.pem" >/dev/null
for n in used-node revoked-node valid-node; do
  hwca bootstrap create --node "$n" --ip 10.1.0.1 >"$WORK/$n.token"
done
revoked_id=$(hwca bootstrap list -o json | jq -r '.[] | select(.node == "revoked-node") | .id')
hwca bootstrap revoke "$revoked_id" >/dev/null
# A token spent: as an EST enrollment would (the claim is the database's; the SQL marks it).
sqlite3 "$HWCA_HOME/issuance.db" "UPDATE bootstrap_tokens SET used_at = created_at + 5 WHERE node = 'used-node'"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/ek.key"
openssl pkey -in "$WORK/ek.key" -pubout -out "$WORK/ek.pub"
hwca node register --name tpm-node --ek-pub "$WORK/ek.pub" --ip 10.2.0.1 >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/ekroot.key" \
  -subj "/CN=EK maker root" -days 30 -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign -out "$WORK/ekroot.pem" 2>/dev/null
hwca ek-roots add "$WORK/ekroot.pem" >/dev/null
hwca audit verify >/dev/null || fail "the SQLite home's audit log does not verify"

listings() {  # what the home shows, for before and after
  hwca cert list -o json
  hwca bootstrap list -o json
  hwca node list -o json
  hwca ek-roots list -o json
  # A shared CA's certificate is the database's, not a file of the home.
  hwca ca list -o json | jq 'walk(if type == "object" then del(.certificateFile) else . end)'
}
before=$(listings)
cp "$HWCA_HOME/audit.log" "$WORK/audit.before"
config_before=$(sha256sum <"$HWCA_HOME/config.yaml")

# Refusals first; each leaves the home on its SQLite file.
full=$(new_db)
hwca_pin --home "$WORK/other" --database "$full" ca init --name other --key "$(key_uri other)" \
  --generate ec-p256 --subject /CN=other >/dev/null
expect_fail 6 "holds hwca records already" hwca db migrate --to "$full"
secret=mig-secret-5521
expect_fail 2 "carries a password" hwca db migrate --to "postgresql://hwca:$secret@localhost/x"
[[ $LAST_ERR != *"$secret"* ]] || fail "the password was echoed: $LAST_ERR"
expect_fail 2 "needs a postgresql:// URL" hwca db migrate --to "$WORK/other.db"
target=$(new_db)
# Another process writing to the SQLite file (a server left running): the copy waits 5 s for
# it, then gives up.
(echo 'BEGIN IMMEDIATE;'; sleep 9) | sqlite3 "$HWCA_HOME/issuance.db" &
writer=$!
sleep 0.5
expect_fail 6 "stop every hwca serve and command using the home" hwca db migrate --to "$target"
kill "$writer" 2>/dev/null; wait "$writer" 2>/dev/null || true
sed -i '2s/"event":"[a-z.]*"/"event":"forged"/' "$HWCA_HOME/audit.log"
expect_fail 6 "the audit log must verify before it is migrated" hwca db migrate --to "$target"
cp "$WORK/audit.before" "$HWCA_HOME/audit.log"
[[ $(sha256sum <"$HWCA_HOME/config.yaml") == "$config_before" ]] || fail "a refusal changed config.yaml"
[[ $(sql "$target" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0 ]] ||
  fail "a refused migration made tables"
[[ $(listings) == "$before" ]] || fail "a refusal changed what the home shows"

# The migration.
out=$(hwca db migrate --to "$target" -o json) || fail "hwca db migrate: $LAST_ERR"
lines=$(wc -l <"$WORK/audit.before")
head_hash=$(tail -1 "$WORK/audit.before" | tr -d '\n' | sha256sum | cut -d' ' -f1)
[[ $(jq -r .auditLines <<<"$out") == "$lines" && $(jq -r .auditHead <<<"$out") == "$head_hash" ]] ||
  fail "the report's chain: $out (the log: $lines lines ending in $head_hash)"
src=$HWCA_HOME/issuance.db
for t in certs serial_reservations crl_numbers bootstrap_tokens node_tpms ek_roots; do
  n=$(sqlite3 "$src" "SELECT count(*) FROM $t")
  [[ $n -gt 0 ]] || fail "the test made no row of $t"
  [[ $(jq -r ".rows.$t" <<<"$out") == "$n" ]] || fail "the report's $t: $out (SQLite: $n)"
  [[ $(sql "$target" "SELECT count(*) FROM $t") == "$n" ]] || fail "PostgreSQL's $t rows differ"
done
[[ $(jq -r .rows.ca_definitions <<<"$out") == 2 ]] || fail "the report's CAs: $out"
# Every column as it was (the SANs as the JSON array PostgreSQL keeps).
same_rows() {  # TABLE SQLITE-SELECT PG-SELECT
  diff <(sqlite3 -separator '|' "$src" "$2") <(sql "$target" "$3") >"$WORK/diff" ||
    fail "$1 differs after the migration: $(head -5 "$WORK/diff")"
}
cols="ca, serial, profile, subject, not_before, not_after, requester, revoked_at, revocation_reason, recorded_at, renewed_from, spki_sha256"
same_rows certs "SELECT $cols, hex(der), (SELECT json_group_array(san) FROM (SELECT san FROM cert_sans WHERE cert_id = certs.id ORDER BY position)) FROM certs ORDER BY id" \
  "SELECT $cols, upper(encode(der, 'hex')), sans FROM certs ORDER BY id"
same_rows tokens "SELECT id, node, hex(secret_sha256), addresses, created_at, expires_at, created_by, used_at, revoked_at FROM bootstrap_tokens ORDER BY rowid" \
  "SELECT id, node, upper(encode(secret_sha256, 'hex')), addresses, created_at, expires_at, created_by, used_at, revoked_at FROM bootstrap_tokens ORDER BY seq"
same_rows reservations "SELECT ca, serial, reserved_at FROM serial_reservations ORDER BY ca, serial" \
  "SELECT ca, serial, reserved_at FROM serial_reservations ORDER BY ca, serial"
same_rows crl_numbers "SELECT ca, last FROM crl_numbers" "SELECT ca, last FROM crl_numbers"
same_rows node_tpms "SELECT node, ek_sha256, ek_kind, hex(ek_der), registered_at, registered_by, addresses FROM node_tpms" \
  "SELECT node, ek_sha256, ek_kind, upper(encode(ek_der, 'hex')), registered_at, registered_by, addresses FROM node_tpms"
same_rows ek_roots "SELECT sha256, subject, CASE anchor WHEN 1 THEN 't' ELSE 'f' END, hex(der), added_at, added_by FROM ek_roots" \
  "SELECT sha256, subject, anchor, upper(encode(der, 'hex')), added_at, added_by FROM ek_roots"
# The chain byte for byte, then the migration's own line.
diff <(sql "$target" "SELECT line FROM audit_events WHERE seq <= $lines ORDER BY seq") \
  "$WORK/audit.before" >/dev/null || fail "the audit chain's lines differ from the log's"
last=$(sql "$target" "SELECT line FROM audit_events WHERE seq = $((lines + 1))")
[[ $(jq -r .event <<<"$last") == db.migrated && $(jq -r .data.rows.certs <<<"$last") == \
  "$(sqlite3 "$src" 'SELECT count(*) FROM certs')" ]] || fail "the migration's audit line: $last"

# The home names the database, keeps no CA of its own, and shows what it showed.
grep -q '^database: postgresql:///' "$HWCA_HOME/config.yaml" || fail "config.yaml does not name the database"
yaml_to_json <"$HWCA_HOME/config.yaml" | jq -e '(.cas // {}) == {}' >/dev/null ||
  fail "config.yaml still lists the CAs: $(cat "$HWCA_HOME/config.yaml")"
after=$(listings)
[[ $after == "$before" ]] || fail "the home shows other records after the migration: $(diff <(echo "$before") <(echo "$after") | head -20)"
v=$(hwca audit verify) || fail "audit verify after the migration: $v"
assert_contains "$v" "$((lines + 1)) events, the hash chain is intact" "audit verify"
assert_contains "$v" "every certificate, revocation and bootstrap token is accounted for" "audit verify"
cmp -s "$WORK/audit.before" "$HWCA_HOME/audit.log" || fail "the audit log was changed"

# It carries on: a new certificate verifies with a serial the database did not hold, the
# next CRL is number 2 and lists the revoked certificate.
hwca_pin sign --ca sub --profile server --csr "$WORK/l2.csr" --days 2 --out "$WORK/after.pem" >/dev/null
hwca ca show root --pem >"$WORK/root.pem"
hwca ca show sub --pem >"$WORK/sub.pem"
openssl verify -CAfile "$WORK/root.pem" -untrusted "$WORK/sub.pem" "$WORK/after.pem" >/dev/null ||
  fail "a certificate issued after the migration does not verify"
hwca_pin crl --ca sub --out "$WORK/crl2.pem" >/dev/null
crl=$(openssl crl -in "$WORK/crl2.pem" -noout -text)
assert_contains "$crl" "X509v3 CRL Number: "$'\n'"                2" "the next CRL"
assert_contains "$(tr 'a-f' 'A-F' <<<"$crl")" "$(tr 'a-f' 'A-F' <<<"$s1")" "the next CRL's entries"
# Again: the home is on PostgreSQL now.
expect_fail 2 "names a PostgreSQL database already" hwca db migrate --to "$(new_db)"
