#!/usr/bin/env bash
# The layer boundaries of docs/design.md, checked on the sources and, given a Ninja build
# folder, on what each object file really included (ninja's deps log: headers reached through
# other headers count too).
#   ci/check-includes.sh [BUILD_DIR]        the repository this script is in
#   HWCA_SOURCE_DIR=DIR ci/check-includes.sh  another tree (the test that proves it fails)
# Fails (exit 1, one line per violation) when:
#  - src/ca, src/k8s, src/est or src/cli include a PKCS#11, libp11, ESYS or TCTI header: the
#    CA and what is built on it reach devices only through the provider (EVP_PKEY);
#  - tokens/ or providers/ include anything of src/ above common (ca, attest, k8s, est, node,
#    cli): they are the floors under it;
#  - any source includes with "../": an include names its layer (the build's include roots,
#    CMakeLists.txt hwca_include_root, then decide what it may reach).
# Each target's include root already refuses project headers outside its layers at compile
# time; this adds the system headers and the sources no build compiles (a disabled option).
set -euo pipefail
src=${HWCA_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${1:-}
device_names='(pkcs11[tf]?|libp11|tss2_esys|tss2_sys|tss2_tctildr|tss2_tcti_[a-z0-9_]+)\.h'
device_include="[<\"/]${device_names}[>\"]"
upper_include='"(ca|attest|k8s|est|node|cli)/'
parent_include='include[[:space:]]*[<"][^">]*\.\./'
violations=0

report() {
  echo "check-includes: $1"
  violations=$((violations + 1))
}

# grep -n over the include lines of a set of folders: FILE:LINE:TEXT
includes_in() {
  local dirs=()
  for d in "$@"; do [ -d "$src/$d" ] && dirs+=("$src/$d"); done
  [ ${#dirs[@]} -eq 0 ] && return 0
  grep -rnE --include='*.cpp' --include='*.hpp' --include='*.h' --include='*.c' \
    '^[[:space:]]*#[[:space:]]*include' "${dirs[@]}" || true
}

while IFS= read -r line; do
  [ -z "$line" ] && continue
  if [[ $line =~ $device_include ]]; then
    report "${line#"$src"/}: a device header above the key stores (use the provider: EVP_PKEY)"
  fi
done < <(includes_in src/ca src/k8s src/est src/cli)

while IFS= read -r line; do
  [ -z "$line" ] && continue
  if [[ $line =~ $upper_include ]]; then
    report "${line#"$src"/}: tokens/ and providers/ may include only common/ of src/"
  fi
done < <(includes_in tokens providers)

while IFS= read -r line; do
  [ -z "$line" ] && continue
  if [[ $line =~ $parent_include ]]; then
    report "${line#"$src"/}: an include with ../ (name the layer: \"common/...\")"
  fi
done < <(includes_in src tokens providers)

# What the objects of the upper layers really included, headers of headers too.
if [ -n "$build" ]; then
  if [ ! -f "$build/build.ninja" ]; then
    echo "check-includes: $build is not a Ninja build folder" >&2
    exit 2
  fi
  deps=$(ninja -C "$build" -t deps 2>/dev/null) || {
    echo "check-includes: ninja -t deps failed in $build" >&2
    exit 2
  }
  checked=0
  while IFS=$'\t' read -r object header; do
    if [ "$header" = "-" ]; then
      checked=$((checked + 1))
      continue
    fi
    report "$object included $header"
  done < <(pat="/${device_names}\$" awk '
    /^[^ ].*: #deps/ { obj = $1; sub(/:$/, "", obj);
                       upper = obj ~ /^src\/(ca|k8s|est|cli)\/CMakeFiles\//;
                       if (upper) print obj "\t-"; next }
    upper && $1 ~ ENVIRON["pat"] { print obj "\t" $1 }' <<<"$deps")
  if [ "$checked" -eq 0 ]; then
    echo "check-includes: no object of src/ca, src/k8s, src/est or src/cli in $build's deps log (build it first)" >&2
    exit 2
  fi
  echo "check-includes: $checked objects of src/ca, src/k8s, src/est and src/cli checked header by header"
fi

if [ "$violations" -gt 0 ]; then
  echo "check-includes: $violations include(s) cross a layer boundary (docs/design.md, \"Layers\")" >&2
  exit 1
fi
echo "check-includes: the layer boundaries hold"
