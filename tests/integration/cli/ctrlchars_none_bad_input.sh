#!/usr/bin/env bash
# Input with control characters (newline, ESC) in URI attribute names, percent-decoded
# values, --type, --module and a PIN file path: the error is still exactly one printable
# line starting "hwca: " (a newline would split it, an ESC sequence would reach the
# terminal). Every case runs (in a subshell) and the failures are counted.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

gen_key ec-p256 k
failures=0 total=0
check() { total=$((total + 1)); (expect_fail "$@") || failures=$((failures + 1)); }

nl=$'\n' esc=$'\e'
# Raw control characters are refused in values (these are escaped in the message) ...
check 2 "URI attribute 'object' holds a character that must be percent-encoded" \
  hwca_pin key show --key "pkcs11:token=$TOKEN;object=a${nl}b"
check 2 "URI attribute 'object' holds a character that must be percent-encoded" \
  hwca_pin key show --key "pkcs11:token=$TOKEN;object=a${esc}[31mb"
# ... and in attribute names.
check 2 "bad URI attribute name" hwca_pin key show --key "pkcs11:fo${nl}o=bar"
check 2 "bad URI attribute name" hwca_pin key show --key "pkcs11:${esc}[31mred=1;object=k"
check 2 "bad URI attribute name" hwca_pin key show --key "pkcs11:token=$TOKEN;object=k?fr${nl}ob=1"
check 2 "has no '=value'" hwca_pin key show --key "pkcs11:token=$TOKEN;x${nl}y"
# Percent-encoded control characters, decoded.
check 2 "URI attribute 'type' must be public, private, cert, secret-key or data" \
  hwca_pin key show --key "pkcs11:token=$TOKEN;object=k;type=%0Abad"
check 2 "URI attribute 'type' must be public, private, cert, secret-key or data" \
  hwca_pin key show --key "pkcs11:token=$TOKEN;object=k;type=%1B[31m"
check 3 "no private key object=no%0Asuch" hwca_pin key show --key "$(key_uri no%0Asuch)"
# Option values.
check 2 "unknown key type" hwca_pin key generate --key "$(key_uri new)" --type "ec${nl}p256"
check 3 "does not exist" hwca --module "/no${nl}such.so" token list
check 3 "does not exist" hwca key show --key "$(key_uri k)?module-path=/no%0Asuch.so"
cp "$PIN_FILE" "open${nl}pin"
chmod 644 "open${nl}pin"
check 4 "is accessible by group or others" hwca --pin-source "file:$WORK/open${nl}pin" \
  key show --key "$(key_uri k)"
check 4 "is accessible by group or others" hwca key show --key "$(key_uri k)?pin-source=file:$WORK/open%0Apin"

((failures == 0)) || fail "$failures of $total errors are not one printable 'hwca: ' line"
echo "ok: control characters in input never break the one-line error"
