#!/usr/bin/env bash
# CI's short fuzzing pass: every target of tests/fuzz for HWCA_FUZZ_SECONDS (20) each, after
# building build-fuzz (clang, libFuzzer, ASan, UBSan). Fails on any crash; the inputs are left
# in tests/fuzz/regressions/<target>/. Prints how long the build and the runs took.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
start=$(date +%s)
"$root/scripts/fuzz.sh" all "${HWCA_FUZZ_SECONDS:-20}"
echo "fuzz-short: build and runs took $(($(date +%s) - start)) s"
