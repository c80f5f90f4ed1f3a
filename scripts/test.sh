#!/usr/bin/env bash
# Build hwca and run the whole test suite (unit, integration against real SoftHSM2 tokens
# and p11-kit's server, the openssl/GnuTLS command-line tests). Works on a fresh Debian 12
# machine as root: missing packages are installed first.
#   scripts/test.sh                  warnings as errors, then every test
#   HWCA_SANITIZE=1 scripts/test.sh  the C++ tests under AddressSanitizer + UBSan (build-asan/)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

args=(-DHWCA_WERROR=ON)
ctest_args=()
if [ "${HWCA_SANITIZE:-0}" = 1 ]; then
  export HWCA_BUILD_DIR=${HWCA_BUILD_DIR:-$root/build-asan}
  args+=(-DHWCA_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  # SoftHSM and OpenSSL keep allocations until exit; leaks are not what this run checks.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
  # The command-line scripts run the stock openssl with hwca.so, which an ASan build
  # cannot serve (see tests/integration/cli/CMakeLists.txt).
  ctest_args+=(-LE cli)
fi
build=${HWCA_BUILD_DIR:-$root/build}

"$root/scripts/build.sh" "${args[@]}"
cd "$build"
ctest --output-on-failure -j"$(nproc)" --timeout 600 "${ctest_args[@]}"
