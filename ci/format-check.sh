#!/usr/bin/env bash
# Check C++ formatting against .clang-format for files changed since a base (default
# origin/main or the first commit). Prints the files that need `clang-format -i`.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-$(git rev-parse -q --verify origin/main || git rev-list --max-parents=0 HEAD | tail -1)}
files=$(git diff --name-only --diff-filter=ACMR "$base" -- '*.cpp' '*.hpp' '*.h' || true)
[ -z "$files" ] && exit 0
bad=0
for f in $files; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "needs formatting: $f"
    bad=1
  fi
done
exit $bad
