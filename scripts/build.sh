#!/usr/bin/env bash
# Configure and build hwca into build/ (or $HWCA_BUILD_DIR). Extra arguments go to CMake.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HWCA_BUILD_DIR:-$root/build}
"$root/scripts/setup-deps.sh"
if [ ! -f "$build/build.ninja" ] || [ $# -gt 0 ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${HWCA_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
fi
cmake --build "$build" -- -j"$(nproc)"
