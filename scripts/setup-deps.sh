#!/usr/bin/env bash
# Install what hwca needs from Debian 12's packages, by set: runs apt-get only when
# something is missing. Needs root (or sudo) for the install itself.
#   scripts/setup-deps.sh                     every set (build, server, node, test)
#   scripts/setup-deps.sh build server node   what scripts/install.sh needs
#   scripts/setup-deps.sh build fuzz          what scripts/fuzz.sh needs
set -euo pipefail

# build: compiler, CMake, Ninja, pkg-config, libraries and headers (libtss2-dev: tpm2-tss's
# ESYS, TCTI loader, marshalling and return-code decoding for the TPM 2.0 key store, and
# brings the TCTI libraries, /dev/tpmrm0's among them; libcpp-httplib-dev: HTTP and HTTPS for
# the EST server and client; libpq-dev: the PostgreSQL issuance store's client library). The
# runtime libraries come with their -dev packages.
BUILD_PACKAGES=(
  g++ cmake ninja-build pkg-config
  libssl-dev libp11-dev libp11-kit-dev libcli11-dev libexpected-dev
  nlohmann-json3-dev libyaml-cpp-dev libsqlite3-dev libtss2-dev libcpp-httplib-dev libpq-dev
)
# server (hwca, hwca serve): OpenSSL's command line, SoftHSM2 (the token the docs and the
# quickstart use; it creates the softhsm group owning its token folder), p11-kit's proxy
# module (the default PKCS#11 module) and its tools.
SERVER_PACKAGES=(openssl softhsm2 libsofthsm2 p11-kit p11-kit-modules)
# node (hwca-node): OpenSSL's command line; the TPM is reached through tpm2-tss (above).
NODE_PACKAGES=(openssl)
# test: GoogleTest, opensc's pkcs11-tool, GnuTLS's certtool, libp11's pkcs11 engine for
# openssl (the comparison in tests/bench/process_bench.sh), sqlite3 (tests that alter the
# database), etcd and etcdctl (the Kubernetes PKI tests run a 3-member cluster on its
# certificates), swtpm and swtpm_setup (the TPM 2.0 tests start their own software TPM),
# tpm2-tools (they check the TPM independently of hwca's code), tpm2-openssl (key files both
# ways), curl (the EST tests' outside client), systemd (systemd-analyze verify checks the
# installed units), jq and python3-yaml (the tests read the documents of -o json|yaml with
# them), and postgresql (the PostgreSQL store's tests start their own private server:
# initdb, postgres and psql from /usr/lib/postgresql/*/bin).
TEST_PACKAGES=(
  libgtest-dev opensc gnutls-bin libengine-pkcs11-openssl sqlite3 etcd-server etcd-client
  swtpm swtpm-tools tpm2-tools tpm2-openssl curl systemd jq python3-yaml postgresql
)
# fuzz (scripts/fuzz.sh, not in the default sets): clang and its runtimes (libFuzzer, ASan,
# UBSan).
FUZZ_PACKAGES=(clang libclang-rt-14-dev)
# kubectl: the one on the machine if there is one, else Debian's.
command -v kubectl >/dev/null || TEST_PACKAGES+=(kubernetes-client)

[ $# -gt 0 ] || set -- build server node test
wanted=()
for set in "$@"; do
  case $set in
    build) wanted+=("${BUILD_PACKAGES[@]}") ;;
    server) wanted+=("${SERVER_PACKAGES[@]}") ;;
    node) wanted+=("${NODE_PACKAGES[@]}") ;;
    test) wanted+=("${TEST_PACKAGES[@]}") ;;
    fuzz) wanted+=("${FUZZ_PACKAGES[@]}") ;;
    *) echo "setup-deps: unknown package set '$set' (build, server, node, test or fuzz)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    [[ " ${missing[*]} " == *" $p "* ]] || missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "setup-deps: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
