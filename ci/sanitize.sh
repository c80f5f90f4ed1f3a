#!/usr/bin/env bash
# The whole test suite built with AddressSanitizer and UndefinedBehaviorSanitizer
# (in build-asan/). Leak checking is off: SoftHSM2 and OpenSSL keep allocations until exit.
set -euo pipefail
cd "$(dirname "$0")/.."
HWCA_SANITIZE=1 exec scripts/test.sh
