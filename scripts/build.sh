#!/usr/bin/env bash
# Configure and build hwca into build/ (or $HWCA_BUILD_DIR).
#   scripts/build.sh [-DVAR=VALUE...] [TARGET...]
# Arguments starting with '-' go to CMake (and reconfigure); the others name the targets to
# build (default: all of them, tests and benchmarks included). $HWCA_DEPS chooses the
# package sets scripts/setup-deps.sh installs first (default: all).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HWCA_BUILD_DIR:-$root/build}
cmake_args=()
targets=()
for arg in "$@"; do
  case $arg in
    -*) cmake_args+=("$arg") ;;
    *) targets+=("$arg") ;;
  esac
done
# shellcheck disable=SC2086 # a list of set names
"$root/scripts/setup-deps.sh" ${HWCA_DEPS:-}
if [ ! -f "$build/build.ninja" ] || [ ${#cmake_args[@]} -gt 0 ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${HWCA_BUILD_TYPE:-RelWithDebInfo}" \
    "${cmake_args[@]}" >/dev/null
fi
if [ ${#targets[@]} -gt 0 ]; then
  cmake --build "$build" --target "${targets[@]}" -- -j"$(nproc)"
else
  cmake --build "$build" -- -j"$(nproc)"
fi
