#!/usr/bin/env bash
# Two CA homes on one PostgreSQL database (--database; the tests' private server, ctest's
# fixture 'postgres'): a CA made in one home is listed, signs and revokes in the other
# without a file copied; both append to one audit chain that 'hwca audit verify' checks
# (and cross-checks with the database) from either; a second CA of the same name is refused;
# a URL with a password in it is refused without echoing the password; a home that already
# uses another database is not switched by --database. Profiles published from one home
# ('hwca profile publish') are used by the other.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[[ -n ${HWCA_TEST_PG_DIR:-} && -f ${HWCA_TEST_PG_DIR:-}/port ]] ||
  fail "no PostgreSQL server: run under ctest (the 'postgres' fixture sets HWCA_TEST_PG_DIR)"
need psql
port=$(cat "$HWCA_TEST_PG_DIR/port")
db=t_cli_$$_$RANDOM
admin="host=$HWCA_TEST_PG_DIR port=$port user=hwca dbname=postgres"
psql -qX "$admin" -c "CREATE DATABASE $db" >/dev/null || fail "cannot create database $db"
cleanup_hook() { psql -qX "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; }
url="postgresql:///$db?host=$(printf '%s' "$HWCA_TEST_PG_DIR" | sed 's|/|%2F|g')&port=$port&user=hwca"

# libpq is loaded when a PostgreSQL database is used, not linked: an SQLite home's commands
# do not pay for it (and the Kerberos, LDAP and SASL libraries it brings).
! ldd "$HWCA_BIN" | grep -q libpq || fail "hwca links libpq: every process would load it"

a=$WORK/home-a b=$WORK/home-b
hwca_pin --home "$a" --database "$url" ca init --name shared --key "$(key_uri shared)" \
  --generate ec-p256 --subject "/CN=shared root" >"$WORK/init.out"
assert_contains "$(cat "$WORK/init.out")" "certificate: in the shared database" "ca init"
[[ ! -e $a/cas ]] || fail "a shared CA's certificate was written to the home"
grep -q "^database: postgresql:///$db?" "$a/config.yaml" || fail "config.yaml does not name the database"

# The other home knows the CA from the database alone.
list=$(hwca --home "$b" --database "$url" ca list)
assert_contains "$list" "shared" "ca list in the second home"
hwca --home "$b" ca show shared --pem >"$WORK/shared.pem"
openssl x509 -in "$WORK/shared.pem" -noout -subject | grep -q "CN *= *shared root" ||
  fail "the second home shows another certificate"

# It signs there; the certificate chains to the CA made in the first home.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/leaf.key" \
  -subj /CN=leaf.example -out "$WORK/leaf.csr" 2>/dev/null
hwca_pin --home "$b" sign --ca shared --profile client --csr "$WORK/leaf.csr" --days 1 \
  --out "$WORK/leaf.pem" >/dev/null
out=$(openssl verify -CAfile "$WORK/shared.pem" "$WORK/leaf.pem") || fail "openssl verify: $out"
serial=$(openssl x509 -in "$WORK/leaf.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')

# The first home sees it, revokes it; the second sees it revoked.
assert_contains "$(hwca --home "$a" cert list)" "$serial" "cert list in the first home"
hwca --home "$a" revoke --ca shared "$serial" --reason keyCompromise >/dev/null
assert_contains "$(hwca --home "$b" cert list)" "revoked" "cert list in the second home"

# One chain, written by both homes, checked from either.
for h in "$a" "$b"; do
  v=$(hwca --home "$h" audit verify) || fail "audit verify from $h"
  assert_contains "$v" "3 events, the hash chain is intact" "audit verify ($h)"
  assert_contains "$v" "every certificate, revocation and bootstrap token is accounted for" "audit verify ($h)"
done
[[ ! -e $a/audit.log && ! -e $b/audit.log ]] || fail "an audit line went to a home's file"

# Refusals: one line, the right code, nothing changed.
expect_fail 6 "a CA named 'shared' already exists" hwca_pin --home "$b" ca init --name shared \
  --key "$(key_uri shared)" --subject /CN=again
assert_contains "$(hwca --home "$a" audit verify)" "3 events" "audit after a refused ca init"
secret=pg-secret-8841
expect_fail 2 "carries a password" hwca --home "$WORK/home-c" \
  --database "postgresql://hwca:$secret@localhost/$db" ca list
[[ $LAST_ERR != *"$secret"* ]] || fail "the password was echoed: $LAST_ERR"
! grep -rqF "$secret" "$WORK/home-c" 2>/dev/null || fail "the password was written to the home"
hwca --home "$WORK/home-d" ca list >/dev/null 2>&1 || true  # a home of its own, SQLite
HWCA_HOME=$WORK/home-d hwca_pin ca init --name local --key "$(key_uri local)" --generate ec-p256 \
  --subject /CN=local >/dev/null
expect_fail 2 "uses database issuance.db" hwca --home "$WORK/home-d" --database "$url" ca list

# Profiles: published from one home, every home takes them in; one that a home also has in
# its config.yaml makes that home refuse to open (as a CA would); publishing none removes them.
printf 'profiles:\n  short:\n    base: client\n    days: 3\n    maxDays: 3\n' >"$WORK/profiles.yaml"
out=$(hwca --home "$a" profile publish "$WORK/profiles.yaml") || fail "profile publish: $LAST_ERR"
assert_contains "$out" "published 1 profile: short" "profile publish"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/short.key" \
  -subj /CN=short.example -out "$WORK/short.csr" 2>/dev/null
hwca_pin --home "$b" sign --ca shared --profile short --csr "$WORK/short.csr" \
  --out "$WORK/short.pem" >/dev/null
nb=$(date -d "$(openssl x509 -in "$WORK/short.pem" -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in "$WORK/short.pem" -noout -enddate | cut -d= -f2)" +%s)
(((na - nb) / 86400 == 3)) || fail "the shared profile 'short' gave $(((na - nb) / 86400)) days"
v=$(hwca --home "$b" audit verify) || fail "audit verify after profile publish"
assert_contains "$v" "5 events, the hash chain is intact" "audit verify after profile publish"
cp "$b/config.yaml" "$WORK/b-config.yaml"
printf 'profiles:\n  short:\n    base: server\n' >>"$b/config.yaml"
expect_fail 6 "profile 'short' is also a profile of" hwca --home "$b" cert list
cp "$WORK/b-config.yaml" "$b/config.yaml"
expect_fail 2 "is not shared" hwca --home "$WORK/home-d" profile publish "$WORK/profiles.yaml"
printf 'profiles: {}\n' >"$WORK/none.yaml"
hwca --home "$a" profile publish "$WORK/none.yaml" >/dev/null
expect_fail 3 "no profile named 'short'" hwca_pin --home "$b" sign --ca shared --profile short --csr "$WORK/short.csr" \
  --out "$WORK/gone.pem"
