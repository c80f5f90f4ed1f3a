#!/usr/bin/env bash
# Run the libFuzzer targets of tests/fuzz (tests/fuzz/README.md) with ASan and UBSan.
#   scripts/fuzz.sh [TARGET|all] [SECONDS] [RUNS]
# one target or each in turn, for SECONDS each (60), or until RUNS executions if that comes
# first (the long run of docs/security.md: scripts/fuzz.sh all 3600 10000000).
# Installs clang if it is missing (setup-deps.sh build fuzz), configures and builds
# build-fuzz/ (clang, -DHWCA_FUZZ=ON), and runs each target on a copy of its corpus in
# build-fuzz/fuzz-work/corpus/<target> (the committed seeds, the regression inputs and the
# seeds made at run time: what a run adds stays there, out of git). Prints executions,
# exec/s, coverage (cov, ft) and crashes per target; the inputs that crashed a target are
# copied to tests/fuzz/regressions/<target>/ for review, and the script then exits 1.
# HWCA_FUZZ_BUILD_JOBS (2) sets ninja's -j; a run uses one core.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
all=(csr_fast_path est_request est_codec uri cluster_yaml profile_yaml tss2_key_file tpm_structures)
which=${1:-all}
seconds=${2:-60}
runs_limit=${3:--1}
if [[ ! $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: SECONDS must be a positive number of seconds, not '$seconds'" >&2
  exit 2
fi
if [[ ! $runs_limit =~ ^([1-9][0-9]*|-1)$ ]]; then
  echo "fuzz.sh: RUNS must be a positive number of executions, not '$runs_limit'" >&2
  exit 2
fi
if [ "$which" = all ]; then
  targets=("${all[@]}")
elif [[ " ${all[*]} " == *" $which "* ]]; then
  targets=("$which")
else
  echo "fuzz.sh: no fuzz target '$which' (all, ${all[*]})" >&2
  exit 2
fi

"$root/scripts/setup-deps.sh" build fuzz
build=$root/build-fuzz
if [ ! -f "$build/build.ninja" ]; then
  launcher=()
  command -v ccache >/dev/null &&
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DHWCA_FUZZ=ON -DHWCA_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
fi
ninja -C "$build" -j"${HWCA_FUZZ_BUILD_JOBS:-2}" hwca_fuzz_seeds "${targets[@]/#/hwca_fuzz_}" >/dev/null

work=$build/fuzz-work
rm -rf "$work/runtime-seeds"
"$build/fuzz/hwca_fuzz_seeds" --runtime "$work/runtime-seeds"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
printf '%-16s %12s %9s %8s %8s %8s %8s\n' target executions exec/s cov ft seconds crashes
for t in "${targets[@]}"; do
  corpus=$work/corpus/$t
  crashes=$work/crashes/$t
  rm -rf "$crashes"  # the last run's crash inputs went to tests/fuzz/regressions already
  mkdir -p "$corpus" "$crashes"
  for src in "$root/tests/fuzz/corpus/$t" "$root/tests/fuzz/regressions/$t" "$work/runtime-seeds/$t"; do
    [ -d "$src" ] && find "$src" -maxdepth 1 -type f ! -name '.*' -exec cp -n {} "$corpus/" \;
  done
  dict=()
  [ -f "$root/tests/fuzz/$t.dict" ] && dict=(-dict="$root/tests/fuzz/$t.dict")
  log=$work/$t.log
  rc=0
  began=$(date +%s)
  "$build/fuzz/hwca_fuzz_$t" -max_total_time="$seconds" -runs="$runs_limit" -timeout=25 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "${dict[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  new=$(find "$crashes" -type f | wc -l)
  if [ "$rc" -ne 0 ] && [ "$new" -eq 0 ]; then new=1; fi  # died without an artifact
  printf '%-16s %12s %9s %8s %8s %8s %8s\n' "$t" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
    "$(($(date +%s) - began))" "$new"
  if [ "$new" -gt 0 ]; then
    failed=1
    mkdir -p "$root/tests/fuzz/regressions/$t"
    find "$crashes" -type f -exec cp {} "$root/tests/fuzz/regressions/$t/" \;
    echo "fuzz.sh: $t crashed; its log is $log, the inputs are in tests/fuzz/regressions/$t/" >&2
  fi
done
exit "$failed"
