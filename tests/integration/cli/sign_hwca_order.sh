#!/usr/bin/env bash
# What needs no key is checked before the key: `hwca sign` reports a bad profile, request,
# --days or output as itself even when the PIN source would fail or no token is reachable
# (and audits it as refused), and `hwca ca show` shows a CA without opening its token
# (--key-attributes opens it). `hwca sign --out` refuses an existing file unless --force,
# with the words of `hwca k8s kubeconfig`.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

export HWCA_HOME=$WORK/home
AUDIT=$HWCA_HOME/audit.log

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 --subject /CN=order-root \
  >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout l.key -subj /CN=l \
  -addext "subjectAltName=DNS:l.example" -out l.csr 2>/dev/null
openssl req -new -key l.key -subj /CN=n -out nosan.csr
printf 'not a request\n' >garbage.csr

# A PIN source that fails (the variable is unset), and no token at all: each mistake is
# named, never the PIN or the token.
unset HWCA_UNSET_PIN_VAR
for env in "HWCA_PIN_SOURCE=env:HWCA_UNSET_PIN_VAR" "HWCA_PKCS11_MODULE=$WORK/no-module.so"; do
  nopin() { _logged env "$env" "$HWCA_BIN" "$@"; }
  expect_fail 3 "no profile named 'nosuch'" nopin sign --ca root --profile nosuch --csr l.csr
  expect_fail 2 "garbage.csr is not" nopin sign --ca root --profile server --csr garbage.csr
  expect_fail 3 "missing.csr" nopin sign --ca root --profile server --csr missing.csr
  expect_fail 2 "1000 days is more than profile 'server' allows (397)" \
    nopin sign --ca root --profile server --csr l.csr --days 1000
  expect_fail 2 "profile 'kubelet-credential' has a fixed lifetime" \
    nopin sign --ca root --profile kubelet-credential --csr nosan.csr --days 1
  expect_fail 2 "nosan.csr: " nopin sign --ca root --profile server --csr nosan.csr
  expect_fail 3 "cannot write $WORK/no/such/dir/l.pem" \
    nopin sign --ca root --profile server --csr l.csr --out "$WORK/no/such/dir/l.pem"
  # `ca show` needs neither; its key attributes need the token.
  out=$(nopin ca show root)
  assert_contains "$out" "subject:           CN=order-root" "ca show root ($env)"
  grep -qxE "key type: +ec-p256" <<<"$out" || fail "ca show root ($env): no key type: $out"
  [[ $out != *"sensitive:"* ]] || fail "ca show root ($env) opened the token: $out"
done
expect_fail 4 "PIN source env:HWCA_UNSET_PIN_VAR names an unset variable" \
  env HWCA_PIN_SOURCE=env:HWCA_UNSET_PIN_VAR "$HWCA_BIN" ca show root --key-attributes
out=$(hwca_pin ca show root --key-attributes)
grep -qxE "never-extractable: +yes" <<<"$out" || fail "ca show --key-attributes: $out"
# A good request with the failing PIN source fails on the PIN, and the refusals above were
# audited with their reasons.
expect_fail 4 "PIN source env:HWCA_UNSET_PIN_VAR names an unset variable" \
  env HWCA_PIN_SOURCE=env:HWCA_UNSET_PIN_VAR "$HWCA_BIN" sign --ca root --profile server --csr l.csr
grep -qF '"reason":"no profile named '"'"'nosuch'"'" "$AUDIT" || fail "the bad profile was not audited"
grep -qF '"reason":"1000 days is more than' "$AUDIT" || fail "the bad --days was not audited"

# --out: an existing file is refused (and left as it was) unless --force.
out=$(hwca_pin sign --ca root --profile server --csr l.csr --out l.pem)
assert_contains "$out" "issued " "sign l.pem"
first=$(openssl x509 -in l.pem -noout -serial)
before=$(sha256sum <l.pem)
expect_fail 6 "l.pem exists; --force replaces it (the old certificate stays valid until revoked)" \
  hwca_pin sign --ca root --profile server --csr l.csr --out l.pem
[[ $(sha256sum <l.pem) == "$before" ]] || fail "a refused sign changed l.pem"
hwca_pin sign --ca root --profile server --csr l.csr --out l.pem --force >/dev/null
[[ $(openssl x509 -in l.pem -noout -serial) != "$first" ]] || fail "--force did not replace l.pem"
[[ $(stat -c %a l.pem) == 644 ]] || fail "l.pem is not mode 0644 after --force"
out=$(hwca cert show "${first#serial=}")
grep -qxE "status: +valid" <<<"$out" || fail "the replaced certificate is no longer valid: $out"
# The same words as `hwca k8s kubeconfig`.
: >k.conf
expect_fail 6 "k.conf exists; --force replaces it (the old certificate stays valid until revoked)" \
  hwca_pin k8s kubeconfig --ca root --user alice --server https://k8s.example:6443 --out k.conf
out=$(hwca sign --help)
assert_contains "$out" "--force" "hwca sign --help"

echo "sign_hwca_order: ok"
