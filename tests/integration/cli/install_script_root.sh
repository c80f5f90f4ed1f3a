#!/usr/bin/env bash
# scripts/install.sh --root DIR (docs/install.md) into a system tree of the test's own: DIR/etc
# starts as a copy of this machine's passwd, group, shadow and gshadow, with SoftHSM2's
# configuration and token folder (root:softhsm, 2770) as Debian's package makes them.
#  1. a first run installs the files, creates the hwca system user and group (no login
#     shell, home /var/lib/hwca 0700), puts hwca in the group owning the token folder, makes
#     /etc/hwca 0750 root:hwca, writes the /etc/default templates and says how to put the PIN;
#  2. a second run changes nothing (every file, mode, owner and time as before) and says so;
#     an edited /etc/default file is never overwritten;
#  3. a SoftHSM2 configuration with another token folder (in /etc/default/hwca-serve): a
#     drop-in lets the unit write it, and hwca joins the group owning it; --token-group;
#  4. --node-only on a fresh tree: the node's files and template, no user, no server unit;
#  5. bad input: one line "hwca: install: ..." and the exit code (2 usage, 3 missing, 4 not root).
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
: "${HWCA_BUILD_DIR:?HWCA_BUILD_DIR must name the build folder}"
need cmake useradd groupadd usermod runuser
export HWCA_BUILD_DIR
install_sh=$repo/scripts/install.sh
softhsm_gid=$(getent group softhsm | cut -d: -f3)
[[ -n $softhsm_gid ]] || fail "no softhsm group: the softhsm2 package makes it (scripts/setup-deps.sh)"

# new_root DIR: a system tree with this machine's account files and SoftHSM2 as Debian has it.
new_root() {
  mkdir -p "$1/etc/softhsm" "$1/var/lib/softhsm/tokens"
  cp -p /etc/passwd /etc/group /etc/shadow /etc/gshadow "$1/etc/"
  printf '%s\n' "directories.tokendir = /var/lib/softhsm/tokens/" "objectstore.backend = file" \
    >"$1/etc/softhsm/softhsm2.conf"
  chown "0:$softhsm_gid" "$1/var/lib/softhsm/tokens"
  chmod 2770 "$1/var/lib/softhsm/tokens"
}
# run_install ARGS...: install.sh --no-build with ARGS; its output (both streams) in OUT,
# its standard error alone in ERR, its exit status in RC.
run_install() {
  RC=0
  OUT=$(bash "$install_sh" --no-build "$@" 2>"$WORK/install.err") || RC=$?
  ERR=$(cat "$WORK/install.err")
  OUT+=$'\n'$ERR
}
# snapshot DIR: every path with its mode, owner, size, time and content digest.
snapshot() {
  (cd "$1" && find . -printf '%p %m %u:%g %s %T@\n' | sort &&
    find . -type f -exec sha256sum {} + | sort)
}
# expect_install_fail CODE TEXT ARGS...: install.sh fails with CODE and one line with TEXT.
expect_install_fail() {
  local code=$1 text=$2
  shift 2
  run_install "$@"
  [[ $RC == "$code" ]] || fail "install.sh $*: exit $RC, expected $code: $OUT"
  [[ $(wc -l <<<"$ERR") == 1 && $ERR == "hwca: install: "*"$text"* ]] ||
    fail "install.sh $*: expected one line 'hwca: install: ...$text...' on stderr: $ERR"
}

# --- 1. the first run -----------------------------------------------------------------------

R=$WORK/root
new_root "$R"
run_install --root "$R"
[[ $RC == 0 ]] || fail "install.sh --root: exit $RC: $OUT"
for line in "created system user hwca" "created /var/lib/hwca (mode 700, owner hwca:hwca)" \
  "created /etc/hwca (mode 750, owner root:hwca)" "added user hwca to group softhsm" \
  "wrote /etc/default/hwca-serve" "wrote /etc/default/hwca-node" "/etc/hwca/pin is missing"; do
  assert_contains "$OUT" "$line" "the first run's output"
done
pw=$(grep '^hwca:' "$R/etc/passwd") || fail "no user hwca in $R/etc/passwd"
IFS=: read -r _ _ uid gid _ home shell <<<"$pw"
((uid < 1000)) || fail "hwca is not a system user: uid $uid"
[[ $home == /var/lib/hwca && $shell == /usr/sbin/nologin ]] || fail "hwca's account: $pw"
[[ $(grep '^hwca:' "$R/etc/group" | cut -d: -f3) == "$gid" ]] || fail "hwca's group is not hwca"
grep -q "^softhsm:.*[:,]hwca\(,\|$\)" "$R/etc/group" || fail "hwca is not in group softhsm: $(grep ^softhsm: "$R/etc/group")"
grep -q '^hwca:' /etc/passwd && fail "the run under --root created the user on this machine"
[[ $(stat -c '%a %u %g' "$R/var/lib/hwca") == "700 $uid $gid" ]] || fail "/var/lib/hwca: $(stat -c '%a %u %g' "$R/var/lib/hwca")"
[[ $(stat -c '%a %u %g' "$R/etc/hwca") == "750 0 $gid" ]] || fail "/etc/hwca: $(stat -c '%a %u %g' "$R/etc/hwca")"
for d in hwca-serve hwca-node; do
  cmp -s "$repo/scripts/systemd/$d.default" "$R/etc/default/$d" || fail "/etc/default/$d is not the template"
  [[ $(stat -c '%a %u' "$R/etc/default/$d") == "644 0" ]] || fail "/etc/default/$d: $(stat -c '%a %u' "$R/etc/default/$d")"
done
"$R/usr/local/bin/hwca" --version >/dev/null || fail "the installed hwca does not run"
grep -q '^ExecStart=/usr/local/bin/hwca ' "$R/usr/local/lib/systemd/system/hwca-serve.service" ||
  fail "hwca-serve.service's ExecStart: $(grep ExecStart "$R/usr/local/lib/systemd/system/hwca-serve.service")"
[[ ! -e $R/etc/systemd ]] || fail "a drop-in was written for the default token folder"

# --- 2. idempotence -------------------------------------------------------------------------

before=$(snapshot "$R")
run_install --root "$R"
[[ $RC == 0 ]] || fail "the second run: exit $RC: $OUT"
assert_contains "$OUT" "nothing to change" "the second run's output"
! grep -E '^install: (installed|created|wrote|added|set) ' <<<"$OUT" || fail "the second run changed something"
[[ $(snapshot "$R") == "$before" ]] || fail "the second run changed the tree:
$(diff <(echo "$before") <(snapshot "$R"))"
echo "HWCA_CA=edited-ca" >>"$R/etc/default/hwca-serve"
(umask 077 && echo "not-a-real-pin" >"$R/etc/hwca/pin")
before=$(snapshot "$R")
run_install --root "$R"
[[ $RC == 0 && $OUT == *"nothing to change"* && $OUT != *pin* ]] || fail "a run after an edit: exit $RC: $OUT"
[[ $(snapshot "$R") == "$before" ]] || fail "a run after an edit changed the tree"
chmod 644 "$R/etc/hwca/pin"
run_install --root "$R"
assert_contains "$OUT" "warning: /etc/hwca/pin is mode 644" "a run with a PIN file readable by others"

# --- 3. another token folder, a vendor group ----------------------------------------------

groupadd --prefix "$R" --system hwcatok
groupadd --prefix "$R" --system hsmvendor
tok_gid=$(grep '^hwcatok:' "$R/etc/group" | cut -d: -f3)
install -d -m 2770 -o 0 -g "$tok_gid" "$R/srv/tokens"
printf '%s\n' "directories.tokendir = /srv/tokens" "objectstore.backend = file" >"$R/etc/softhsm/other.conf"
sed -i 's|^SOFTHSM2_CONF=.*|SOFTHSM2_CONF="/etc/softhsm/other.conf"|' "$R/etc/default/hwca-serve"
run_install --root "$R" --server-only --token-group hsmvendor
[[ $RC == 0 ]] || fail "install.sh with another token folder: exit $RC: $OUT"
assert_contains "$OUT" "added user hwca to group hwcatok" "another token folder"
assert_contains "$OUT" "added user hwca to group hsmvendor" "--token-group"
dropin=$R/etc/systemd/system/hwca-serve.service.d/token-dir.conf
grep -qx 'ReadWritePaths=-/srv/tokens' "$dropin" || fail "no drop-in for /srv/tokens: $(cat "$dropin" 2>&1)"
run_install --root "$R" --server-only --token-group hsmvendor
assert_contains "$OUT" "nothing to change" "a second run with another token folder"
chgrp 0 "$R/srv/tokens"
expect_install_fail 1 "token folder /srv/tokens belongs to group root" --root "$R"
rmdir "$R/srv/tokens"
expect_install_fail 3 "token folder /srv/tokens (from /etc/softhsm/other.conf) is missing" --root "$R"
sed -i 's|^SOFTHSM2_CONF=.*|SOFTHSM2_CONF=/etc/softhsm/softhsm2.conf|' "$R/etc/default/hwca-serve"

run_install --root "$R" --server-only
assert_contains "$OUT" "removed /etc/systemd/system/hwca-serve.service.d/token-dir.conf" "back to the default token folder"
[[ ! -e $dropin ]] || fail "the drop-in for /srv/tokens stayed"

# --- 4. a node only -------------------------------------------------------------------------

N=$WORK/node
new_root "$N"
run_install --root "$N" --node-only
[[ $RC == 0 ]] || fail "install.sh --node-only: exit $RC: $OUT"
grep -q '^hwca:' "$N/etc/passwd" && fail "--node-only created the hwca user"
[[ -x $N/usr/local/bin/hwca-node && ! -e $N/usr/local/bin/hwca ]] || fail "--node-only binaries: $(ls "$N/usr/local/bin")"
[[ -f $N/usr/local/lib/systemd/system/hwca-node-renew.timer && ! -e $N/usr/local/lib/systemd/system/hwca-serve.service ]] ||
  fail "--node-only units: $(ls "$N/usr/local/lib/systemd/system")"
[[ -f $N/etc/default/hwca-node && ! -e $N/etc/default/hwca-serve && ! -e $N/etc/hwca ]] || fail "--node-only /etc: $(ls "$N/etc")"

# --- 5. bad input ---------------------------------------------------------------------------

expect_install_fail 2 "--server-only and --node-only exclude each other" --server-only --node-only
expect_install_fail 2 "unknown option '--bogus'" --bogus
expect_install_fail 2 "--prefix must be an absolute path" --prefix usr
expect_install_fail 2 "--root needs a value" --root
mkdir "$WORK/empty"
expect_install_fail 3 "$WORK/empty/etc/passwd or $WORK/empty/etc/group is missing" --root "$WORK/empty"
expect_install_fail 3 "group 'nosuch' does not exist" --root "$R" --token-group nosuch
expect_install_fail 3 "holds no build" --root "$R" --build-dir "$WORK/empty"
chmod 755 "$WORK"
RC=0
OUT=$(runuser -u nobody -- bash "$install_sh" --no-build --root "$R" 2>&1) || RC=$?
[[ $RC == 4 && $OUT == "hwca: install: must run as root"* ]] || fail "install.sh as nobody: exit $RC: $OUT"
bash "$install_sh" --help | grep -q -- '--node-only' || fail "--help does not list --node-only"

echo "ok: install.sh --root: user, group, token groups, /etc/hwca, templates; a second run changes nothing"
