#!/usr/bin/env bash
# ci/check-includes.sh must fail on each kind of boundary crossing, name the file and line,
# and pass the same tree once they are gone: a device header in the CA layers (written
# directly, and reached through another header in a compiled object), an upper layer
# included from tokens/ or providers/, an include with ../.
set -euo pipefail
script=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

tree=$tmp/src-tree
mkdir -p "$tree"/src/{ca,k8s,cli,est,common} "$tree"/tokens/pkcs11 "$tree"/providers
echo '#include <p11-kit/pkcs11.h>' >"$tree/src/ca/direct.cpp"
echo '  #  include "tss2/tss2_esys.h"' >"$tree/src/k8s/spaced.hpp"
echo '#include <libp11.h>' >"$tree/src/est/libp11.cpp"
echo '#include "ca/home.hpp"' >"$tree/tokens/pkcs11/up.cpp"
echo '#include "../common/text.hpp"' >"$tree/providers/parent.cpp"
# Allowed: the TPM's type definitions (no device), and tokens/ using common/.
echo '#include <tss2/tss2_tpm2_types.h>' >"$tree/src/cli/types.cpp"
echo '#include "common/result.hpp"' >"$tree/tokens/fine.cpp"

set +e
out=$(HWCA_SOURCE_DIR=$tree "$script" 2>&1)
rc=$?
set -e
echo "$out"
[ "$rc" -eq 1 ] || fail "exit $rc on a tree with 5 violations (want 1)"
for want in "src/ca/direct.cpp:1:" "src/k8s/spaced.hpp:1:" "src/est/libp11.cpp:1:" \
  "tokens/pkcs11/up.cpp:1:" "providers/parent.cpp:1:" "5 include(s) cross"; do
  grep -qF "$want" <<<"$out" || fail "no line with '$want'"
done
for allowed in types.cpp fine.cpp; do
  ! grep -q "$allowed" <<<"$out" || fail "$allowed was refused"
done

# A header that includes a device header, included by an object of src/ca: only the deps log
# shows it. A Ninja build of one object, laid out as CMake lays out hwca_ca's.
rm "$tree"/src/ca/direct.cpp "$tree"/src/k8s/spaced.hpp "$tree"/src/est/libp11.cpp \
  "$tree"/tokens/pkcs11/up.cpp "$tree"/providers/parent.cpp
HWCA_SOURCE_DIR=$tree "$script" >/dev/null || fail "the clean tree was refused"
build=$tmp/build
mkdir -p "$build/inc"
echo '#include <p11-kit/pkcs11.h>' >"$build/inc/innocent.hpp"
echo '#include "innocent.hpp"
int main() { return 0; }' >"$build/object.cpp"
cat >"$build/build.ninja" <<NINJA
rule cxx
  command = g++ -MD -MF \$out.d -I inc $(pkg-config --cflags p11-kit-1) -c \$in -o \$out
  deps = gcc
  depfile = \$out.d
build src/ca/CMakeFiles/hwca_ca.dir/object.cpp.o: cxx object.cpp
NINJA
ninja -C "$build" >/dev/null
set +e
out=$(HWCA_SOURCE_DIR=$tree "$script" "$build" 2>&1)
rc=$?
set -e
echo "$out"
[ "$rc" -eq 1 ] || fail "exit $rc with a device header reached through another (want 1)"
grep -qE "src/ca/CMakeFiles/hwca_ca.dir/object.cpp.o included .*/p11-kit/pkcs11.h" <<<"$out" ||
  fail "the object that reached pkcs11.h is not named"
echo "PASS"
