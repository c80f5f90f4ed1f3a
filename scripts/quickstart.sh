#!/usr/bin/env bash
# hwca quickstart: a root CA whose key is made inside a local SoftHSM2 token issues a server
# and a client certificate; the results are checked with the stock openssl and certtool.
# Works on a fresh Debian 12 machine as root (installs what is missing, builds, runs).
# State (token, PIN files, certificates) goes to ./state (or $HWCA_STATE); re-running reuses
# the token and key.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=${HWCA_STATE:-$root/state}
build=${HWCA_BUILD_DIR:-$root/build}

say() { printf '\n== %s\n' "$*"; }

say "Building hwca"
"$root/scripts/build.sh"
hwca="$build/bin/hwca"
provider_dir="$build/lib"

umask 077
mkdir -p "$state/tokens"
export SOFTHSM2_CONF="$state/softhsm2.conf"
export HWCA_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so
label=hwca-quickstart
if [ ! -f "$SOFTHSM2_CONF" ]; then
  cat > "$SOFTHSM2_CONF" <<CONF
directories.tokendir = $state/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
fi

say "SoftHSM2 token '$label' in $state/tokens"
if ! "$hwca" token list 2>/dev/null | grep -q "^token '$label'"; then
  # Random PINs, kept only in 0600 files: never on a command line.
  openssl rand -hex 12 > "$state/user.pin"
  openssl rand -hex 12 > "$state/so.pin"
  "$hwca" --pin-source "file:$state/user.pin" token init --label "$label" \
    --so-pin-source "file:$state/so.pin"
  echo "PINs are in $state/user.pin and $state/so.pin (mode 0600)"
else
  echo "reusing the token"
fi
export HWCA_PIN_SOURCE="file:$state/user.pin"

key_uri="pkcs11:token=$label;object=quickstart-ca"
export HWCA_HOME="$state/home"
say "A root CA whose key is generated inside the token: $key_uri"
if ! "$hwca" ca show quickstart-root >/dev/null 2>&1; then
  "$hwca" ca init --name quickstart-root --key "$key_uri" --generate ec-p256 \
    --subject "/CN=hwca quickstart root CA/O=hwca"
else
  echo "reusing CA 'quickstart-root' in $HWCA_HOME"
fi
"$hwca" ca show quickstart-root

say "A server and a client certificate, issued by the CA (signed inside the token)"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$state/server.key" 2>/dev/null
openssl req -new -key "$state/server.key" -subj "/CN=server.example" \
  -addext "subjectAltName=DNS:server.example,IP:127.0.0.1" -out "$state/server.csr"
"$hwca" sign --ca quickstart-root --profile server --csr "$state/server.csr" --out "$state/server.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$state/client.key" 2>/dev/null
openssl req -new -key "$state/client.key" -subj "/CN=alice/O=example" -out "$state/client.csr"
"$hwca" sign --ca quickstart-root --profile client --csr "$state/client.csr" --out "$state/client.pem"
"$hwca" ca show quickstart-root --pem > "$state/ca.pem"

say "Checked with the stock openssl command and GnuTLS's certtool (no provider)"
openssl verify -CAfile "$state/ca.pem" "$state/server.pem" "$state/client.pem"
openssl x509 -in "$state/server.pem" -noout -subject -ext subjectAltName,keyUsage,extendedKeyUsage
cat "$state/server.pem" "$state/ca.pem" | certtool --verify-chain | grep "Chain verification output"

say "A CRL signed in the token; the server certificate checks against it"
"$hwca" crl --ca quickstart-root --out "$state/crl.pem"
openssl verify -crl_check -CAfile "$state/ca.pem" -CRLfile "$state/crl.pem" "$state/server.pem"

say "The issuance database and the audit log"
"$hwca" cert list --ca quickstart-root
"$hwca" audit verify

# openssl reaches the same key through the provider module; the PIN through pin-source.
pin_path=$(printf '%s' "$state/user.pin" | sed 's/ /%20/g')
ossl_key="$key_uri?pin-source=file:$pin_path"
prov=(-provider-path "$provider_dir" -provider hwca -provider default)
say "The stock openssl command signs with the token key through hwca's provider"
openssl req -new "${prov[@]}" -key "$ossl_key" -subj "/CN=signed in the token" -out "$state/token.csr"
openssl req -in "$state/token.csr" -noout -verify

cat <<DONE

Done. What happened:
  - a SoftHSM2 token '$label' holds the EC P-256 key of root CA 'quickstart-root'; the key
    was generated inside the token and cannot be exported ('hwca ca show' above);
  - 'hwca sign' issued a server and a client certificate under the built-in profiles: the
    key signed inside the token, each certificate was recorded in the issuance database and
    the hash-chained audit log before it was written out;
  - 'openssl verify' and 'certtool --verify-chain' accepted them, and 'hwca crl' published
    a CRL signed in the token;
  - the stock openssl command signed a request with the same key through hwca's provider
    ($provider_dir/hwca.so).
Files in $state:
  home/ (the CA home: config.yaml, cas/, issuance.db, audit.log), ca.pem, crl.pem, server.pem +
  server.key, client.pem + client.key, token.csr, softhsm2.conf + tokens/ (the token),
  user.pin + so.pin (PINs, mode 0600).
Try:
  export SOFTHSM2_CONF=$SOFTHSM2_CONF HWCA_PKCS11_MODULE=$HWCA_PKCS11_MODULE HWCA_PIN_SOURCE=$HWCA_PIN_SOURCE HWCA_HOME=$HWCA_HOME
  $hwca cert list
  $hwca cert show <serial>
  $hwca revoke --ca quickstart-root <serial> --reason superseded
  $hwca sign --ca quickstart-root --profile peer --csr <your.csr>
DONE
