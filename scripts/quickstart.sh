#!/usr/bin/env bash
# hwca quickstart: a CA key made inside a local SoftHSM2 token, used through hwca's OpenSSL
# provider to sign, and the results checked with the stock openssl command.
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
say "CA key inside the token: $key_uri"
if ! "$hwca" key show --key "$key_uri" >/dev/null 2>&1; then
  "$hwca" key generate --key "$key_uri" --type ec-p256
fi
"$hwca" key show --key "$key_uri" | sed -n '1,11p'

# openssl reaches the key through the provider module; the PIN through pin-source.
pin_path=$(printf '%s' "$state/user.pin" | sed 's/ /%20/g')
ossl_key="$key_uri?pin-source=file:$pin_path"
prov=(-provider-path "$provider_dir" -provider hwca -provider default)

say "A self-signed CA certificate, signed inside the token"
openssl req -new -x509 "${prov[@]}" -key "$ossl_key" -sha256 -days 3650 \
  -subj "/CN=hwca quickstart CA" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out "$state/ca.pem"
openssl x509 -in "$state/ca.pem" -noout -subject -enddate

say "A certificate request signed by the token key"
openssl req -new "${prov[@]}" -key "$ossl_key" -subj "/CN=signed in the token" -out "$state/token.csr"
openssl req -in "$state/token.csr" -noout -verify

say "A server certificate for a software key, issued by the token-held CA key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$state/server.key" 2>/dev/null
openssl req -new -key "$state/server.key" -subj "/CN=server.example" -out "$state/server.csr"
openssl x509 -req "${prov[@]}" -in "$state/server.csr" -CA "$state/ca.pem" -CAkey "$ossl_key" \
  -CAcreateserial -days 30 -sha256 \
  -extfile <(printf 'subjectAltName=DNS:server.example\nextendedKeyUsage=serverAuth\n') \
  -out "$state/server.pem" 2>/dev/null

say "Checked with the stock openssl command (no provider)"
openssl verify -CAfile "$state/ca.pem" "$state/server.pem"

cat <<DONE

Done. What happened:
  - a SoftHSM2 token '$label' holds an EC P-256 CA key that was generated inside it and
    cannot be exported (sensitive, never extractable: see 'hwca key show' above);
  - OpenSSL signed a CA certificate, a request and a server certificate with that key
    through hwca's provider ($provider_dir/hwca.so); the key never left the token;
  - 'openssl verify' accepted the chain.
Files in $state:
  ca.pem (CA certificate), server.pem + server.key (server), token.csr (request signed in
  the token), softhsm2.conf + tokens/ (the token), user.pin + so.pin (PINs, mode 0600).
Try:
  export SOFTHSM2_CONF=$SOFTHSM2_CONF HWCA_PKCS11_MODULE=$HWCA_PKCS11_MODULE HWCA_PIN_SOURCE=$HWCA_PIN_SOURCE
  $hwca key list --token pkcs11:token=$label
  openssl req -new ${prov[*]} -key '$ossl_key' -subj /CN=x
DONE
