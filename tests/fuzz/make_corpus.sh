#!/usr/bin/env bash
# Remake the committed seed corpora (tests/fuzz/corpus/<target>/) from real inputs: requests,
# bodies, TPM structures and URIs written by hwca_fuzz_seeds with the helpers the tests use
# (keys made in software now and thrown away: only public bytes land here), and the YAML
# documents the docs and tests use. The TSS2 key file seeds are not committed: fuzz.sh and the
# fuzz.seeds test make them at run time (hwca_fuzz_seeds --runtime).
#   tests/fuzz/make_corpus.sh [BUILD_DIR]   (default: build; builds hwca_fuzz_seeds there)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
corpus=$root/tests/fuzz/corpus

ninja -C "$build" hwca_fuzz_seeds >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/fuzz/hwca_fuzz_seeds" --public "$tmp"

# The cluster description of the docs and the quickstart, and the same cluster on IPv6 with
# the options the docs name (bindPort, an IPv6 service subnet, RSA leaves).
mkdir -p "$tmp/cluster_yaml"
cp "$root/docs/examples/cluster.yaml" "$tmp/cluster_yaml/docs-example.yaml"
sed -e 's/10\.0\.0\.10:6443/"[fd00::10]:6443"/' -e 's|10\.96\.0\.0/12|fd00:96::/108|' \
  -e 's/10\.0\.0\.\([0-9]*\)/fd00::\1/g' -e 's/ec-p256/rsa-2048/' \
  -e 's/^nodes:/bindPort: 6444\nnodes:/' \
  "$root/docs/examples/cluster.yaml" >"$tmp/cluster_yaml/ipv6.yaml"

for dir in "$tmp"/*/; do
  target=$(basename "$dir")
  rm -rf "${corpus:?}/$target"
  mkdir -p "$corpus/$target"
  cp "$dir"* "$corpus/$target/"
done
echo "make_corpus: $(find "$corpus" -type f | wc -l) seeds under tests/fuzz/corpus"
