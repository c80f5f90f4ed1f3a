#!/usr/bin/env bash
# clang-tidy (bugprone, performance, concurrency checks) on the given files, or on every
# source under src/, tokens/ and providers/. Uses build/compile_commands.json.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/compile_commands.json ] || scripts/build.sh
files=("$@")
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(git ls-files 'src/*.cpp' 'tokens/*.cpp' 'providers/*.cpp')
clang-tidy -p build --quiet \
  --checks='-*,bugprone-*,performance-*,concurrency-*,-bugprone-easily-swappable-parameters' \
  "${files[@]}"
