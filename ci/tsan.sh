#!/usr/bin/env bash
# The concurrent tests under ThreadSanitizer (in build-tsan/): the PKCS#11 session pool and
# the call watchdog (Concurrency, TokenFault), token recovery (TokenRecovery*), the EST
# server with its group commit (EstServer*), and the cluster PKI's threads (K8sPki).
# OpenSSL, SoftHSM2 and tpm2-tss are Debian's, not instrumented: races inside them show
# only through hwca's calls. Suppressions, each with its reason: ci/tsan.supp.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${HWCA_TSAN_BUILD_DIR:-$root/build-tsan}
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHWCA_WERROR=ON \
  -DHWCA_TSAN=ON -DHWCA_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
ninja -C "$build" -j"$(nproc)" hwca_integration_tests hwca_token_recovery_tests
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/ci/tsan.supp ${TSAN_OPTIONS:-}"
cd "$build"
# One test at a time: the fault and recovery tests time their own outages.
ctest --output-on-failure --timeout 900 \
  -R '^integration\.(Concurrency|TokenFault|TokenRecovery|EstServer|K8sPki)'
