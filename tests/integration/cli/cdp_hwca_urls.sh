#!/usr/bin/env bash
# CRL distribution points and authorityInfoAccess caIssuers: URLs of the issuing CA, set at
# `hwca ca init --crl-url/--ca-issuers-url` and kept in config.yaml, go into every
# certificate the CA issues (`hwca sign`, `hwca k8s kubeconfig`), and into an intermediate's
# own certificate from its parent; a home profile replaces them. `openssl x509 -text` shows
# exactly those URLs in non-critical extensions; `openssl verify -crl_check` still works with
# the CA's CRL. Bad URLs are refused with one line naming the option or field, and change
# nothing in the home.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

export HWCA_HOME=$WORK/home

ROOT_CRL=http://pki.example/root.crl
ROOT_LDAP='ldap://ldap.example/cn=root,o=example?certificateRevocationList'
ROOT_CRT=http://pki.example/root.crt
INTER_CRL=https://pki.example/inter.crl
INTER_CRT=https://pki.example/inter.crt

# urls CERT HEADER: the URIs listed under one extension of `openssl x509 -text`, one a line.
urls() {
  openssl x509 -in "$1" -noout -text |
    awk -v h="$2" 'index($0, h) { on = 1; next } on && /X509v3|Authority Information|Signature Algorithm/ { on = 0 }
      on && /URI:/ { sub(/^.*URI:/, ""); print }'
}
# expect_urls CERT HEADER URL...: exactly these URLs, in order, under a non-critical HEADER.
expect_urls() {
  local cert=$1 header=$2 got want text
  shift 2
  got=$(urls "$cert" "$header")
  want=$(printf '%s\n' "$@")
  [[ $# -gt 0 ]] || want=""
  [[ $got == "$want" ]] || fail "$cert: $header holds '$got', expected '$want'"
  text=$(openssl x509 -in "$cert" -noout -text)
  if [[ $# -gt 0 ]]; then
    grep -qxE " *$header *" <<<"$text" || fail "$cert: $header is missing or critical: $text"
  else
    ! grep -qF "$header" <<<"$text" || fail "$cert: has $header: $text"
  fi
}
CDP="X509v3 CRL Distribution Points:"
AIA="Authority Information Access:"

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 --subject /CN=cdp-root \
  --crl-url "$ROOT_CRL" --crl-url "$ROOT_LDAP" --ca-issuers-url "$ROOT_CRT" >/dev/null
hwca_pin ca init --name inter --key "$(key_uri inter)" --generate ec-p256 --subject /CN=cdp-inter \
  --parent root --crl-url "$INTER_CRL" --ca-issuers-url "$INTER_CRT" >/dev/null
root=$HWCA_HOME/cas/root/cert.pem inter=$HWCA_HOME/cas/inter/cert.pem

# The home keeps them; `ca show` lists them (without the token).
grep -qF "crlDistributionPoints:" "$HWCA_HOME/config.yaml" || fail "config.yaml lacks the CRL URLs"
show=$(HWCA_PKCS11_MODULE=/nonexistent.so hwca ca show root)
grep -qxF "CRL URLs:          $ROOT_CRL, $ROOT_LDAP" <<<"$show" || fail "ca show root: $show"
grep -qxF "caIssuers URLs:    $ROOT_CRT" <<<"$show" || fail "ca show root: $show"

# A root names nothing (it is the anchor); an intermediate names its parent's URLs.
expect_urls "$root" "$CDP"
expect_urls "$root" "$AIA"
expect_urls "$inter" "$CDP" "$ROOT_CRL" "$ROOT_LDAP"
expect_urls "$inter" "$AIA" "$ROOT_CRT"
grep -qF "CA Issuers - URI:$ROOT_CRT" <<<"$(openssl x509 -in "$inter" -noout -text)" ||
  fail "$inter: the AIA entry is not caIssuers"
! grep -q "OCSP" <<<"$(openssl x509 -in "$inter" -noout -text)" || fail "$inter names an OCSP server"

# Leaves name their issuer's URLs.
leaf() {  # leaf NAME CA [PROFILE]
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
    -subj "/CN=$1" -addext "subjectAltName=DNS:$1.example" -out "$1.csr" 2>/dev/null
  hwca_pin sign --ca "$2" --profile "${3:-server}" --csr "$1.csr" --out "$1.pem" >/dev/null
}
leaf a root
leaf b inter
expect_urls a.pem "$CDP" "$ROOT_CRL" "$ROOT_LDAP"
expect_urls a.pem "$AIA" "$ROOT_CRT"
expect_urls b.pem "$CDP" "$INTER_CRL"
expect_urls b.pem "$AIA" "$INTER_CRT"
openssl verify -CAfile "$root" -untrusted "$inter" b.pem >/dev/null || fail "b.pem does not verify"

# And so does a kubeconfig's client certificate (src/k8s issues through the same issuer).
hwca_pin k8s kubeconfig --ca inter --user alice --server https://k8s.example:6443 \
  --out alice.conf >/dev/null
sed -n 's/^ *client-certificate-data: "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' alice.conf | base64 -d >alice.pem
expect_urls alice.pem "$CDP" "$INTER_CRL"
expect_urls alice.pem "$AIA" "$INTER_CRT"

# The CRL at that URL still checks: openssl verify -crl_check takes the leaf, then refuses
# it once revoked.
hwca_pin crl --ca root --out root.crl >/dev/null
out=$(openssl verify -crl_check -CAfile "$root" -CRLfile root.crl a.pem 2>&1) ||
  fail "openssl verify -crl_check a.pem: $out"
hwca revoke --ca root "$(openssl x509 -in a.pem -noout -serial | cut -d= -f2)" >/dev/null
hwca_pin crl --ca root --out root.crl >/dev/null
expect_ossl_fail "certificate revoked" openssl verify -crl_check -CAfile "$root" -CRLfile root.crl a.pem

# A home profile replaces the CA's URLs; an empty list leaves the extension out.
cat >>"$HWCA_HOME/config.yaml" <<'EOF'
profiles:
  web:
    base: server
    crlDistributionPoints: [http://other.example/web.crl]
    issuingCertificateURLs: []
EOF
leaf c root web
expect_urls c.pem "$CDP" http://other.example/web.crl
expect_urls c.pem "$AIA"

# Bad URLs: one line naming the option, exit 2, nothing changed in the home (and no key
# generated for a refused CA).
before=$(home_state)
bad_init() {  # bad_init TEXT OPTION URL
  expect_fail 2 "$1" hwca_pin ca init --name bad --key "$(key_uri bad)" --generate ec-p256 \
    --subject /CN=bad "$2" "$3"
}
bad_init "--crl-url: URL 'ftp://pki.example/x.crl' must start with http://, https:// or ldap://" \
  --crl-url ftp://pki.example/x.crl
bad_init "--ca-issuers-url: URL 'file:///etc/x' must start with" --ca-issuers-url file:///etc/x
bad_init "--crl-url: URL 'http://a b/x.crl' holds a space" --crl-url "http://a b/x.crl"
bad_init "--crl-url: URL 'http://a\\x01/x' holds a space, a control character" \
  --crl-url "$(printf 'http://a\001/x')"
bad_init "--crl-url: URL 'http://pki.\\xc3\\xa9xample/x' holds" --crl-url "http://pki.éxample/x"
bad_init "--crl-url: URL 'http:///x.crl' names no host" --crl-url http:///x.crl
bad_init "--ca-issuers-url: URL 'https://' names no host" --ca-issuers-url https://
bad_init "is longer than 1024 characters" --crl-url "http://pki.example/$(printf 'a%.0s' {1..1010})"
expect_fail 2 "--crl-url: at most 8 URLs, not 9" hwca_pin ca init --name bad --key "$(key_uri bad)" \
  --generate ec-p256 --subject /CN=bad $(for i in {1..9}; do printf -- '--crl-url http://h/%s ' "$i"; done)
expect_fail 2 "--crl-url: URL 'http://h/x' is listed twice" hwca_pin ca init --name bad \
  --key "$(key_uri bad)" --generate ec-p256 --subject /CN=bad --crl-url http://h/x --crl-url http://h/x
[[ $(home_state) == "$before" ]] || fail "a refused ca init changed the home"
out=$(hwca_pin key list --token "pkcs11:token=$TOKEN")
[[ $out != *"'bad'"* && $out != *" bad "* ]] || fail "a refused ca init left a key: $out"

# Bad URLs in config.yaml: refused when the home is opened, naming the file, CA or profile
# and field.
cp "$HWCA_HOME/config.yaml" config.good
bad_config() {  # bad_config TEXT SED-EXPRESSION
  cp config.good "$HWCA_HOME/config.yaml"
  sed -i "$2" "$HWCA_HOME/config.yaml"
  expect_fail 2 "$1" hwca ca list
}
bad_config "profile 'web': crlDistributionPoints: URL 'gopher://x' must start with" \
  's#http://other.example/web.crl#gopher://x#'
bad_config "profile 'web': issuingCertificateURLs must be a list of URLs" \
  's#issuingCertificateURLs: \[\]#issuingCertificateURLs: http://x#'
bad_config "profile 'web': ocspServers: hwca runs no OCSP responder" \
  's#issuingCertificateURLs: \[\]#ocspServers: [http://ocsp.example]#'
bad_config "CA 'root': crlDistributionPoints: URL 'http://' names no host" \
  "s#$ROOT_CRL#http://#"
cp config.good "$HWCA_HOME/config.yaml"
hwca ca list >/dev/null

echo "cdp_hwca_urls: ok"
