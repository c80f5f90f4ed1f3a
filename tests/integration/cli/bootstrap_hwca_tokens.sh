#!/usr/bin/env bash
# `hwca bootstrap create | list | revoke` in a home that holds no CA (a folder and an empty
# config.yaml are enough). create prints the token alone on standard output; the database
# keeps only the SHA-256 of its text (checked here with sha256sum and sqlite3), and neither
# the database, its WAL, the audit log nor stderr ever holds the text. list shows each
# token's state (valid, revoked, used, expired); revoke refuses unknown (3), revoked and used
# (6) tokens and malformed ids (2); bad --ttl, --ip and --node are exit 2; refusals change
# nothing in the home; the files are 0600 whatever the umask.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
need sqlite3 jq sha256sum

export HWCA_HOME=$WORK/home
DB=$HWCA_HOME/issuance.db
AUDIT=$HWCA_HOME/audit.log
TOKEN_RE='[a-z0-9]{6}\.[a-z0-9]{32}'
TOKENS=()  # every token text made here, to look for it everywhere at the end

# --- help -------------------------------------------------------------------------------
out=$(hwca --help)
assert_contains "$out" bootstrap "hwca --help"
out=$(hwca bootstrap --help)
for word in "Usage: hwca bootstrap" create list revoke SHA-256; do
  assert_contains "$out" "$word" "hwca bootstrap --help"
done
out=$(hwca bootstrap create --help)
for word in "Usage: hwca bootstrap create" "--node NAME" REQUIRED "--ttl DURATION" "default 24h" \
  "at most 365d" "--ip ADDRESS" "standard output"; do
  assert_contains "$out" "$word" "hwca bootstrap create --help"
done
out=$(hwca bootstrap list --help)
for word in "Usage: hwca bootstrap list" "--output FORMAT" valid used revoked expired; do
  assert_contains "$out" "$word" "hwca bootstrap list --help"
done
out=$(hwca bootstrap revoke --help)
for word in "Usage: hwca bootstrap revoke" ID "hwca bootstrap list"; do
  assert_contains "$out" "$word" "hwca bootstrap revoke --help"
done

# --- no home yet: not found, and nothing is made -----------------------------------------
expect_fail 3 "no CA home at $HWCA_HOME" hwca bootstrap create --node node-1
expect_fail 3 "no CA home at $HWCA_HOME" hwca bootstrap list
[[ ! -e $HWCA_HOME ]] || fail "a refused command made $HWCA_HOME"

mkdir -m 700 "$HWCA_HOME"
: >"$HWCA_HOME/config.yaml"
chmod 644 "$HWCA_HOME/config.yaml"
# No database yet: list cannot open it (it never creates it).
expect_fail 3 "cannot open issuance database $DB" hwca bootstrap list
[[ ! -e $DB ]] || fail "bootstrap list created the database"

# create NAME OUT ARGS...: `hwca bootstrap create --node NAME ARGS...` with standard output in
# OUT; checks it is exactly one line, the token, and records the token in TOKENS.
create() {
  local node=$1 file=$2
  shift 2
  hwca bootstrap create --node "$node" "$@" >"$file" 2>"$WORK/create.err"
  [[ $(wc -l <"$file") == 1 && $(wc -c <"$file") == 40 ]] ||
    fail "bootstrap create --node $node: stdout is not one line of 39 characters: $(cat -A "$file")"
  grep -Eqx "$TOKEN_RE" "$file" ||
    fail "bootstrap create --node $node: stdout is not a token: $(cat -A "$file")"
  TOKENS+=("$(cat "$file")")
}
id_of() { cut -c1-6 <"$1"; }

# --- create, under umask 000: the files are 0600 all the same ------------------------------
config_mode=$(stat -c %a "$HWCA_HOME/config.yaml")
start=$(date +%s)
(umask 000 && create node-1 tok1 --ip 10.0.0.5 --ip fd00:0:0::5 --ip 10.0.0.5 --ip FD00::5 --ttl 2h)
end=$(date +%s)
TOKENS+=("$(cat tok1)")  # the subshell's TOKENS are lost
token1=$(cat tok1) id1=$(id_of tok1)
err=$(cat "$WORK/create.err")
assert_contains "$err" "bootstrap token '$id1' for node 'node-1'" "create's note on stderr"
assert_contains "$err" "valid until" "create's note on stderr"
[[ $err != *"${token1#*.}"* ]] || fail "create's note holds the secret"
for f in "$DB" "$DB-wal" "$DB-shm" "$AUDIT"; do
  [[ $(stat -c %a "$f") == 600 ]] || fail "$f is mode $(stat -c %a "$f"), expected 600 (umask 000)"
done
[[ $(stat -c %a "$HWCA_HOME") == 700 ]] || fail "the home's mode changed"
[[ $(stat -c %a "$HWCA_HOME/config.yaml") == "$config_mode" ]] || fail "config.yaml's mode changed"
[[ $(sqlite3 "$DB" 'PRAGMA user_version') == 6 ]] || fail "the database is not schema version 6"

# The database keeps the SHA-256 of the whole text (computed here by sha256sum), the
# canonical addresses without repeats, and the expiry two hours on.
want_hash=$(printf %s "$token1" | sha256sum | cut -d' ' -f1)
row=$(sqlite3 -separator '|' "$DB" \
  "SELECT lower(hex(secret_sha256)), node, addresses, expires_at - created_at, used_at IS NULL,
          revoked_at IS NULL FROM bootstrap_tokens WHERE id = '$id1'")
[[ $row == "$want_hash|node-1|[\"10.0.0.5\",\"fd00::5\"]|7200|1|1" ]] ||
  fail "the database row of $id1: $row"

# The audit line: id, node, addresses, expiry and requester; never the text nor its hash.
line=$(tail -n 1 "$AUDIT")
[[ $(jq -r .event <<<"$line") == bootstrap.created ]] || fail "audit: $line"
[[ $(jq -c .data.addresses <<<"$line") == '["10.0.0.5","fd00::5"]' ]] || fail "audit: $line"
[[ $(jq -r '.data.id + " " + .data.node + " " + .data.requester' <<<"$line") == \
  "$id1 node-1 cli:uid=$(id -u)" ]] || fail "audit: $line"
expires=$(jq -r .data.expires_at <<<"$line")
((expires >= start + 7200 && expires <= end + 7200)) ||
  fail "audit: expires_at $expires is not two hours after the run ($start-$end)"
[[ $(jq -r '.data | keys | join(",")' <<<"$line") == "addresses,expires_at,id,node,requester" ]] ||
  fail "audit: unexpected fields: $line"
! grep -qF "$want_hash" "$AUDIT" || fail "the audit log holds the token's hash"

create node-2 tok2 --ttl 30m
create node-3.example.com tok3 --ttl 7d --ip 192.168.1.1
create node-4 tok4 --ttl 1m
create node-5 tok5
id2=$(id_of tok2) id3=$(id_of tok3) id4=$(id_of tok4) id5=$(id_of tok5)
[[ $(sqlite3 "$DB" "SELECT expires_at - created_at FROM bootstrap_tokens WHERE id = '$id5'") == 86400 ]] ||
  fail "the default --ttl is not 24h"
[[ $(sqlite3 "$DB" "SELECT expires_at - created_at FROM bootstrap_tokens WHERE id = '$id3'") == 604800 ]] ||
  fail "--ttl 7d is not 7 days"
[[ $(printf '%s\n' "$id1" "$id2" "$id3" "$id4" "$id5" | sort -u | wc -l) == 5 ]] ||
  fail "two tokens share an id"

# --- list: every token valid ----------------------------------------------------------------
# state_of ID: the STATE column of `hwca bootstrap list` for ID.
state_of() { hwca bootstrap list | awk -v id="$1" '$1 == id { print $NF }'; }
out=$(hwca bootstrap list)
header=$(head -n 1 <<<"$out")
[[ $(tr -s ' ' <<<"$header") == "ID NODE ADDRESSES CREATED EXPIRES STATE" ]] ||
  fail "bootstrap list header: $header"
[[ $(wc -l <<<"$out") == 6 ]] || fail "bootstrap list: expected 5 tokens: $out"
row1=$(grep "^$id1 " <<<"$out")
assert_contains "$row1" " node-1 " "list row of $id1"
assert_contains "$row1" " 10.0.0.5,fd00::5 " "list row of $id1"
assert_contains "$(grep "^$id2 " <<<"$out")" " - " "list row of $id2 (no address)"
for id in "$id1" "$id2" "$id3" "$id4" "$id5"; do
  [[ $(state_of "$id") == valid ]] || fail "$id is $(state_of "$id"), expected valid"
done
json=$(hwca bootstrap list --json)
[[ $(jq length <<<"$json") == 5 ]] || fail "list --json: $json"
[[ $(jq -r --arg id "$id1" '.[] | select(.id == $id) |
  [.node, (.addresses | join(",")), .state, (.usedAt == null), (.revokedAt == null),
   .createdBy] | join(" ")' <<<"$json") == "node-1 10.0.0.5,fd00::5 valid true true cli:uid=$(id -u)" ]] ||
  fail "list --json, $id1: $json"
exp_json=$(jq -r --arg id "$id1" '.[] | select(.id == $id) | .expiresAt' <<<"$json")
[[ $(date -u -d "$exp_json" +%s) == "$expires" ]] || fail "list --json: expiresAt $exp_json"

# --- revoke ---------------------------------------------------------------------------------
out=$(hwca bootstrap revoke "$id2")
[[ $out == "revoked bootstrap token '$id2' for node 'node-2'" ]] || fail "bootstrap revoke: $out"
line=$(tail -n 1 "$AUDIT")
[[ $(jq -r '[.event, .data.id, .data.node, .data.requester] | join(" ")' <<<"$line") == \
  "bootstrap.revoked $id2 node-2 cli:uid=$(id -u)" ]] || fail "audit: $line"
[[ $(state_of "$id2") == revoked ]] || fail "$id2 is $(state_of "$id2"), expected revoked"
[[ $(state_of "$id1") == valid ]] || fail "revoking $id2 changed $id1"
[[ $(hwca bootstrap list --json | jq -r --arg id "$id2" '.[] | select(.id == $id) | .revokedAt') \
  == *Z ]] || fail "list --json: $id2 has no revokedAt"

# A used token (as the EST server marks it) and an expired one: set in the database.
sqlite3 "$DB" "UPDATE bootstrap_tokens SET used_at = strftime('%s', 'now') WHERE id = '$id3'"
sqlite3 "$DB" "UPDATE bootstrap_tokens SET expires_at = strftime('%s', 'now') - 1 WHERE id = '$id4'"
[[ $(state_of "$id3") == used ]] || fail "$id3 is $(state_of "$id3"), expected used"
[[ $(state_of "$id4") == expired ]] || fail "$id4 is $(state_of "$id4"), expected expired"
[[ $(hwca bootstrap list --json | jq -r 'map(.state) | sort | join(",")') == \
  "expired,revoked,used,valid,valid" ]] || fail "list --json states: $(hwca bootstrap list --json)"

# --- refusals: one line, the right code, and nothing changes in the home --------------------
before=$(home_state)
lines_before=$(wc -l <"$AUDIT")
expect_fail 6 "bootstrap token '$id2' was already revoked on " hwca bootstrap revoke "$id2"
expect_fail 6 "bootstrap token '$id3' was already used on " hwca bootstrap revoke "$id3"
expect_fail 3 "unknown bootstrap token 'zzzzzz'" hwca bootstrap revoke zzzzzz
expect_fail 2 "a bootstrap token id is 6 characters of a-z and 0-9" hwca bootstrap revoke ABCDEF
expect_fail 2 "a bootstrap token id is 6 characters of a-z and 0-9" hwca bootstrap revoke abc
expect_fail 2 "a bootstrap token id is 6 characters of a-z and 0-9" hwca bootstrap revoke abcdefg
# The whole token given as the id: refused, and not repeated.
expect_fail 2 "not the whole token" hwca bootstrap revoke "$token1"
[[ $LAST_ERR != *"${token1#*.}"* ]] || fail "revoke repeated the token: $LAST_ERR"
expect_fail 2 "id is required" hwca bootstrap revoke
expect_fail 2 "a command is needed (one of: create, list, revoke)" hwca bootstrap

expect_fail 2 "--ttl '30' has no unit: write 30m, 30h or 30d" hwca bootstrap create --node n --ttl 30
expect_fail 2 "--ttl '366d' is longer than 365d" hwca bootstrap create --node n --ttl 366d
expect_fail 2 "--ttl '8761h' is longer than 365d" hwca bootstrap create --node n --ttl 8761h
expect_fail 2 "--ttl must be longer than nothing" hwca bootstrap create --node n --ttl 0h
for ttl in 1y 1.5h h -5h 10s " 1h" 1H 99999999d; do
  expect_fail 2 "--ttl takes a duration such as 30m, 24h or 7d" \
    hwca bootstrap create --node n --ttl "$ttl"
done
for ip in 10.0.0.256 10.0.0.1/32 fe80::1%eth0 host.example 10.0.0 010.0.0.1 "" ::ffff:1.2.3.4.5; do
  expect_fail 2 "is not an IPv4 or IPv6 address" hwca bootstrap create --node n --ip "$ip"
done
long_label=$(printf 'a%.0s' {1..64})
for node in Node-1 -a a- a_b a..b .a "a b" "$long_label" "node/1" ""; do
  expect_fail 2 "is not a Kubernetes node name" hwca bootstrap create --node "$node"
done
expect_fail 2 "--node is required" hwca bootstrap create
expect_fail 2 "--node" hwca bootstrap create --ttl 1h
[[ $(home_state) == "$before" ]] || fail "a refused request changed the home"
[[ $(wc -l <"$AUDIT") == "$lines_before" ]] || fail "a refused request added an audit line"

# --- standard output that cannot be written: the token is revoked, not left valid -----------
rc=0
"$HWCA_BIN" bootstrap create --node node-6 >/dev/full 2>"$WORK/full.err" || rc=$?
cat "$WORK/full.err" >>"$STDERR_LOG"
[[ $rc == 7 ]] || fail "create to a full stdout exited $rc, expected 7: $(cat "$WORK/full.err")"
assert_contains "$(cat "$WORK/full.err")" "was revoked: make another" "create to a full stdout"
[[ $(wc -l <"$WORK/full.err") == 1 ]] || fail "create to a full stdout: $(cat "$WORK/full.err")"
id6=$(sqlite3 "$DB" "SELECT id FROM bootstrap_tokens WHERE node = 'node-6'")
[[ $(state_of "$id6") == revoked ]] || fail "the token nobody saw is $(state_of "$id6")"
[[ $(jq -r .event <(tail -n 1 "$AUDIT")) == bootstrap.revoked ]] ||
  fail "the revocation of the token nobody saw is not audited"

# --- no token text anywhere -------------------------------------------------------------
((${#TOKENS[@]} == 5)) || fail "expected 5 tokens recorded, have ${#TOKENS[@]}"
for t in "${TOKENS[@]}"; do
  secret=${t#*.}
  for f in "$HWCA_HOME"/* "$STDERR_LOG"; do
    ! grep -qaF "$secret" "$f" || fail "$f holds the secret of token ${t%%.*}"
  done
  ! grep -qaF "$(printf %s "$t" | sha256sum | cut -d' ' -f1)" "$AUDIT" ||
    fail "the audit log holds the hash of token ${t%%.*}"
done

# The audit log's chain holds with the new events in it.
out=$(hwca audit verify)
assert_contains "$out" "the hash chain is intact" "audit verify"
echo "ok: bootstrap tokens: create, list, revoke, refusals, no secret stored"
