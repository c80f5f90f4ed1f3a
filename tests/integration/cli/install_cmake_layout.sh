#!/usr/bin/env bash
# `cmake --install` of the build under test (docs/install.md):
#  1. into a DESTDIR: exactly the expected files (binaries, hwca.so in OpenSSL's modules
#     folder, the units, docs and examples; nothing from tests/ or bench), the binaries run,
#     hwca.so loads into the stock openssl from the installed folder, the units name the
#     installed binaries and SoftHSM2's token folder; a second install changes nothing;
#  2. the server and node components into another prefix (no DESTDIR): the units name the
#     binaries under that prefix, and `systemd-analyze verify` passes them with no complaint
#     (it checks that ExecStart's binary exists: it fails once the binary is gone).
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
: "${HWCA_BUILD_DIR:?HWCA_BUILD_DIR must name the build folder}"
need cmake pkg-config systemd-analyze timeout
build=$HWCA_BUILD_DIR
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }

# --- 1. DESTDIR install, as a package build does it ---------------------------------------

modulesdir=$(pkg-config --variable=modulesdir libcrypto)
[[ -n $modulesdir ]] || fail "libcrypto's pkg-config has no modulesdir"
[[ $(openssl version -m) == "MODULESDIR: \"$modulesdir\"" ]] ||
  fail "openssl looks for providers in $(openssl version -m), not libcrypto's $modulesdir"
[[ $(cache HWCA_PROVIDER_DIR) == "$modulesdir" ]] ||
  fail "HWCA_PROVIDER_DIR is '$(cache HWCA_PROVIDER_DIR)', not OpenSSL's modules folder $modulesdir"
prefix=$(cache CMAKE_INSTALL_PREFIX)
tokendir=$(sed -n 's/^[[:space:]]*directories\.tokendir[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' \
  /etc/softhsm/softhsm2.conf | tail -n 1)
tokendir=${tokendir%/}
[[ -n $tokendir ]] || fail "no directories.tokendir in /etc/softhsm/softhsm2.conf"

dest=$WORK/root
DESTDIR=$dest cmake --install "$build" >install1.out 2>&1 || fail "cmake --install: $(cat install1.out)"
docs="$prefix/share/doc/hwca"
units="$prefix/lib/systemd/system"
expected=$(printf '%s\n' "$prefix/bin/hwca" "$prefix/bin/hwca-node" "$modulesdir/hwca.so" \
  "$units/hwca-serve.service" "$units/hwca-node-renew.service" "$units/hwca-node-renew.timer" \
  "$docs/README.md" "$docs/attestation.md" "$docs/cli.md" "$docs/design.md" "$docs/install.md" \
  "$docs/kubernetes.md" "$docs/performance.md" "$docs/security.md" \
  "$docs/examples/cluster.yaml" "$docs/examples/hwca-serve.default" \
  "$docs/examples/hwca-node.default" | sort)
got=$(cd "$dest" && find . ! -type d | sed 's/^\.//' | sort)
[[ $got == "$expected" ]] || fail "installed files differ from the expected layout:
$(diff <(echo "$expected") <(echo "$got"))"

for b in hwca hwca-node; do
  [[ $(stat -c %a "$dest$prefix/bin/$b") == 755 ]] || fail "$b is mode $(stat -c %a "$dest$prefix/bin/$b")"
  out=$("$dest$prefix/bin/$b" --version) || fail "the installed $b --version failed"
  [[ $out == "$b "[0-9]* ]] || fail "the installed $b --version printed '$out'"
done
out=$(openssl list -providers -provider-path "$dest$modulesdir" -provider hwca 2>&1) ||
  fail "openssl cannot load the installed hwca.so: $out"
assert_contains "$out" "status: active" "openssl list -providers with the installed hwca.so"
assert_contains "$out" "name: hwca" "openssl list -providers with the installed hwca.so"

unit() { cat "$dest$units/$1"; }
grep -qxF "ExecStart=$prefix/bin/hwca --home \${HWCA_HOME} --pin-source file:\${CREDENTIALS_DIRECTORY}/pin serve --ca \${HWCA_CA} --listen \${HWCA_LISTEN} \$HWCA_SERVE_ARGS" \
  <(unit hwca-serve.service) || fail "hwca-serve.service: ExecStart: $(grep ExecStart <(unit hwca-serve.service))"
grep -q "^ExecStart=$prefix/bin/hwca-node renew " <(unit hwca-node-renew.service) ||
  fail "hwca-node-renew.service: ExecStart: $(grep ExecStart <(unit hwca-node-renew.service))"
grep -qxF "ReadWritePaths=-$tokendir" <(unit hwca-serve.service) ||
  fail "hwca-serve.service may not write SoftHSM2's token folder $tokendir: $(grep ReadWritePaths <(unit hwca-serve.service))"
! grep -n '@[A-Z_]*@' "$dest$units"/* || fail "a unit holds a placeholder left unfilled"
for d in hwca-serve hwca-node; do
  cmp -s "$repo/scripts/systemd/$d.default" "$dest$docs/examples/$d.default" || fail "examples/$d.default"
done

DESTDIR=$dest cmake --install "$build" >install2.out 2>&1 || fail "second cmake --install: $(cat install2.out)"
! grep -F -- "-- Installing:" install2.out || fail "a second install rewrote files"
[[ $(grep -c -- "-- Up-to-date:" install2.out) == "$(wc -l <<<"$expected")" ]] ||
  fail "a second install did not find every file up to date: $(cat install2.out)"

# --- 2. another prefix, and systemd-analyze verify on what was installed ------------------

p=$WORK/prefix
for c in server node; do
  cmake --install "$build" --prefix "$p" --component "$c" >>install3.out 2>&1 ||
    fail "cmake --install --prefix --component $c: $(cat install3.out)"
done
got=$(cd "$p" && find . ! -type d | sort | tr '\n' ' ')
[[ $got == "./bin/hwca ./bin/hwca-node ./lib/systemd/system/hwca-node-renew.service ./lib/systemd/system/hwca-node-renew.timer ./lib/systemd/system/hwca-serve.service " ]] ||
  fail "components server and node installed: $got"
grep -q "^ExecStart=$p/bin/hwca --home " "$p/lib/systemd/system/hwca-serve.service" ||
  fail "--prefix $p: hwca-serve.service: $(grep ExecStart "$p/lib/systemd/system/hwca-serve.service")"
grep -q "^ExecStart=$p/bin/hwca-node renew " "$p/lib/systemd/system/hwca-node-renew.service" ||
  fail "--prefix $p: hwca-node-renew.service: $(grep ExecStart "$p/lib/systemd/system/hwca-node-renew.service")"

# verify exits 0 on many complaints ("Unknown key", "Failed to parse ..., ignoring"): any
# line on its output fails the test, except these, about files of the host that a unit
# names and this machine does not have.
TOLERATED='^[^ ]+: (Failed to load environment files|EnvironmentFile=.* No such file or directory|LoadCredential=.*/etc/hwca/pin.* No such file or directory)'
# verify_unit FILE: `systemd-analyze verify`'s exit status in VRC, its untolerated lines in VBAD.
verify_unit() {
  local out
  VRC=0
  out=$(timeout 30 systemd-analyze verify --man=no "$1" 2>&1) || VRC=$?
  VBAD=$(grep -Ev "$TOLERATED" <<<"$out" | grep -v '^$') || true
}
n=0
for u in "$p"/lib/systemd/system/*; do
  verify_unit "$u"
  [[ $VRC == 0 && -z $VBAD ]] || fail "systemd-analyze verify $(basename "$u"): exit $VRC: $VBAD"
  n=$((n + 1))
done
# The check catches a syntax error that verify itself lets pass with exit 0, and a unit whose
# binary is not where ExecStart says.
mkdir bad
sed 's/^Type=oneshot/Type=one-shot/' "$p/lib/systemd/system/hwca-node-renew.service" >bad/hwca-node-renew.service
verify_unit "$PWD/bad/hwca-node-renew.service"
[[ -n $VBAD ]] || fail "the unit check lets 'Type=one-shot' pass"
mv "$p/bin/hwca" "$p/bin/hwca.moved"
verify_unit "$p/lib/systemd/system/hwca-serve.service"
[[ $VBAD == *"$p/bin/hwca"* ]] || fail "verify did not notice that $p/bin/hwca is missing: $VBAD"

echo "ok: cmake --install: $(wc -l <<<"$expected") files where docs/install.md says, hwca.so loads from" \
  "$modulesdir, units for prefix $prefix and $p; $n units verified"
