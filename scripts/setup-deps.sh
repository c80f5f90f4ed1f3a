#!/usr/bin/env bash
# Install what hwca needs to build and test, from Debian 12's packages. Runs apt-get only
# when something is missing. Needs root (or sudo) for the install itself.
set -euo pipefail

# Build: compiler, CMake, Ninja, pkg-config, libraries and headers (libtss2-dev: tpm2-tss's
# ESYS, TCTI loader, marshalling and return-code decoding for the TPM 2.0 key store;
# libcpp-httplib-dev: HTTP and HTTPS for the EST server and client).
BUILD_PACKAGES=(
  g++ cmake ninja-build pkg-config
  libssl-dev libp11-dev libp11-kit-dev libcli11-dev libexpected-dev libgtest-dev
  nlohmann-json3-dev libyaml-cpp-dev libsqlite3-dev libtss2-dev libcpp-httplib-dev
)
# Run and test: OpenSSL's command line, SoftHSM2, p11-kit (proxy, client and server),
# opensc's pkcs11-tool, GnuTLS's certtool, libp11's pkcs11 engine for openssl (the
# comparison in tests/bench/process_bench.sh), sqlite3 (tests that alter the database),
# etcd and etcdctl (the Kubernetes PKI tests run a 3-member cluster on its certificates),
# swtpm and swtpm_setup (the TPM 2.0 tests start their own software TPM), tpm2-tools (they
# check the TPM independently of hwca's code), tpm2-openssl (key files both ways), curl
# (the EST tests' outside client), and jq and python3-yaml (the tests read the JSON and YAML
# documents of -o json|yaml with them).
RUN_PACKAGES=(
  openssl softhsm2 libsofthsm2 p11-kit p11-kit-modules opensc gnutls-bin
  libengine-pkcs11-openssl sqlite3 etcd-server etcd-client
  swtpm swtpm-tools tpm2-tools tpm2-openssl curl jq python3-yaml
)
# kubectl: the one on the machine if there is one, else Debian's.
command -v kubectl >/dev/null || RUN_PACKAGES+=(kubernetes-client)

missing=()
for p in "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
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
