#!/usr/bin/env bash
# A PKCS#11 module that does not exist, a file that cannot be loaded, and a shared library
# that is not a PKCS#11 module: exit 3 from hwca, whichever way the module is chosen
# (--module, $HWCA_PKCS11_MODULE, module-path= in the URI); openssl fails with the same text.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

libz=$(find_lib libz.so.1)
[[ -n $libz ]] || skip "libz.so.1 not found"
uri=$(key_uri_pin nokey)

# check_module MODULE TEXT
check_module() {
  local module=$1 text=$2 msg
  expect_fail 3 "$text" hwca --module "$module" token list
  msg=${LAST_ERR#hwca: }
  expect_fail 3 "$text" hwca_pin --module "$module" key show --key "$(key_uri nokey)"
  expect_fail 3 "$text" env HWCA_PKCS11_MODULE="$module" "$HWCA_BIN" key list --token "$uri"
  expect_fail 3 "$text" hwca key list --token "pkcs11:token=$TOKEN?module-path=$module&$PIN_QUERY"
  # The provider takes the module from $HWCA_PKCS11_MODULE and from module-path=.
  expect_ossl_fail "$msg" env HWCA_PKCS11_MODULE="$module" openssl req \
    "${PROVIDER_ARGS[@]}" -new -config "$OSSL_CNF" -key "$uri" -subj /CN=x -out x.csr
  expect_ossl_fail "$msg" ossl req -new -config "$OSSL_CNF" -subj /CN=x -out x.csr \
    -key "pkcs11:token=$TOKEN;object=k?module-path=$module&$PIN_QUERY"
}

check_module /nonexistent.so \
  "PKCS#11 module /nonexistent.so does not exist (choose one with --module"
check_module /bin/ls "cannot load PKCS#11 module /bin/ls: "
check_module "$libz" "$libz is not a PKCS#11 module (no C_GetFunctionList)"

# A directory is not a module either.
expect_fail 3 "cannot load PKCS#11 module $WORK" hwca --module "$WORK" token list

# The module that exists still works after all this (the checks can fail).
out=$(hwca --module "$SOFTHSM_MODULE" token list)
assert_contains "$out" "token '$TOKEN'" "token list"
assert_contains "$out" "flags:        login-required" "token list"
echo "ok: missing and invalid PKCS#11 modules exit 3 with a message naming the file"
