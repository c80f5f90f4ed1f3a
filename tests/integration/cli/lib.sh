# Shared setup for the hwca command-line tests; every test script sources this file.
#
# Each script gets a fresh SoftHSM2 token in its own temporary folder (removed on exit),
# a PIN file of mode 0600, and these helpers:
#   hwca ARGS...            the hwca command ($HWCA_BIN)
#   hwca_pin ARGS...        hwca with --pin-source file:$PIN_FILE
#   ossl SUBCMD ARGS...     openssl with the hwca provider (and the default one) loaded
#   expect_fail CODE TEXT CMD...   CMD exits with CODE; for hwca, stderr is one line "hwca: ..."
#   expect_ossl_fail TEXT CMD...   an openssl CMD fails and its stderr contains TEXT
#   fail MSG                stop the test with MSG
# Every stderr captured here is kept in $STDERR_LOG; on exit the test fails if a PIN is in it.
# A tool the test needs that is missing is a failure (scripts/setup-deps.sh installs them).
set -euo pipefail

: "${HWCA_BIN:?HWCA_BIN must name the hwca binary}"
: "${HWCA_PROVIDER_DIR:?HWCA_PROVIDER_DIR must name the folder holding hwca.so}"

SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
# find_lib NAME: NAME in the system's library folders (empty if absent).
find_lib() {
  local f
  for f in /usr/lib/*/"$1" /usr/lib/*/pkcs11/"$1" /usr/lib64/"$1" /usr/lib/"$1"; do
    [[ -e $f ]] && { printf '%s' "$f"; return 0; }
  done
  return 0
}
: "${TOKEN:=ca}"  # a script may choose another label before sourcing this file
PIN=hwca-user-4731
SO_PIN=hwca-so-9052
WRONG_PIN=wrong-pin-5288
ARGV_PIN=argv-pin-3390  # stands for a PIN wrongly put in argv; the real PIN never is

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hwca-cli.XXXXXXXX")
STDERR_LOG=$WORK/stderr.log
: >"$STDERR_LOG"

fail() { echo "FAIL: $*" | cat -v >&2; exit 1; }  # cat -v: no raw control characters
skip() { fail "$* (scripts/setup-deps.sh installs every tool the tests need)"; }

# A script that made something outside $WORK (a database) defines cleanup_hook to remove it.
_cleanup() {
  local rc=$?
  if declare -F cleanup_hook >/dev/null; then cleanup_hook || true; fi
  if [[ $rc == 0 ]] && grep -qF -e "$PIN" -e "$SO_PIN" -e "$WRONG_PIN" -e "$ARGV_PIN" "$STDERR_LOG"; then
    echo "FAIL: a PIN appeared on stderr:" >&2
    grep -F -e "$PIN" -e "$SO_PIN" -e "$WRONG_PIN" -e "$ARGV_PIN" "$STDERR_LOG" | sed 's/^/  /' >&2
    rc=1
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap _cleanup EXIT

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || [[ -e $tool ]] || skip "$tool is not installed"
  done
}
need openssl softhsm2-util p11tool "$SOFTHSM_MODULE"
[[ -x $HWCA_BIN ]] || fail "HWCA_BIN=$HWCA_BIN is not executable"
[[ -f $HWCA_PROVIDER_DIR/hwca.so ]] || fail "no hwca.so in HWCA_PROVIDER_DIR=$HWCA_PROVIDER_DIR"

# write_softhsm_conf FILE [EXTRA-LINE...]: a SoftHSM2 configuration using $WORK/tokens.
write_softhsm_conf() {
  local file=$1
  shift
  printf '%s\n' "directories.tokendir = $WORK/tokens" "objectstore.backend = file" \
    "log.level = ERROR" "slots.removable = false" "$@" >"$file"
}

mkdir -m 700 "$WORK/tokens"
write_softhsm_conf "$WORK/softhsm2.conf"
export SOFTHSM2_CONF=$WORK/softhsm2.conf
export HWCA_PKCS11_MODULE=$SOFTHSM_MODULE
unset HWCA_PIN_SOURCE HWCA_TOKEN_TIMEOUT OPENSSL_CONF
cd "$WORK"

# init_token LABEL: initialise a free SoftHSM slot as token LABEL with $PIN / $SO_PIN.
init_token() {
  softhsm2-util --init-token --free --label "$1" --pin "$PIN" --so-pin "$SO_PIN" >/dev/null
}
init_token "$TOKEN"

PIN_FILE=$WORK/pin
(umask 077 && printf '%s\n' "$PIN" >"$PIN_FILE")
[[ $(stat -c %a "$PIN_FILE") == 600 ]] || fail "the PIN file is not mode 0600"

# uri_escape TEXT: percent-encode TEXT for a pkcs11: URI query value.
uri_escape() {
  local s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in
      [a-zA-Z0-9._~/:-]) out+=$c ;;
      *) out+=$(printf '%%%02X' "'$c") ;;
    esac
  done
  printf '%s' "$out"
}
PIN_QUERY="pin-source=file:$(uri_escape "$PIN_FILE")"

# key_uri LABEL: the key's URI without a PIN source; key_uri_pin LABEL: with ?pin-source.
key_uri() { printf 'pkcs11:token=%s;object=%s' "$TOKEN" "$1"; }
key_uri_pin() { printf 'pkcs11:token=%s;object=%s?%s' "$TOKEN" "$1" "$PIN_QUERY"; }

# _logged CMD...: run CMD, pass its stderr through and keep a copy in $STDERR_LOG.
_logged() {
  local rc=0 err=$WORK/.last.err
  "$@" 2>"$err" || rc=$?
  cat "$err" >>"$STDERR_LOG"
  cat "$err" >&2
  return "$rc"
}

hwca() { _logged "$HWCA_BIN" "$@"; }
hwca_pin() { _logged "$HWCA_BIN" --pin-source "file:$PIN_FILE" "$@"; }

PROVIDER_ARGS=(-provider-path "$HWCA_PROVIDER_DIR" -provider hwca -provider default)
ossl() {
  local sub=$1
  shift
  case $sub in
    req | x509 | pkey | pkeyutl | dgst | ca | cms | storeutl | list | genpkey | verify)
      _logged openssl "$sub" "${PROVIDER_ARGS[@]}" "$@" ;;
    *) _logged openssl "$sub" "$@" ;;
  esac
}

# provider_cnf FILE [KEY=VALUE...]: an openssl.cnf that loads the default provider and the
# hwca module, with KEY = VALUE lines in hwca's section (pin-source, tpm2-tcti, ...).
provider_cnf() {
  local file=$1 kv
  shift
  {
    printf '%s\n' "openssl_conf = init" "[init]" "providers = providers" "[providers]" \
      "default = default_sect" "hwca = hwca_sect" "[default_sect]" "activate = 1" \
      "[hwca_sect]" "module = $HWCA_PROVIDER_DIR/hwca.so"
    for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
    echo "activate = 1"
  } >"$file"
}

# expect_fail CODE TEXT CMD...: CMD must exit with CODE and print TEXT on stderr. When CMD
# runs hwca, stderr must be exactly one line starting "hwca: ", without control characters. Lines matching
# $EXPECT_FAIL_IGNORE (an ERE; noise from a third-party module) are left out of the checks.
expect_fail() {
  local code=$1 text=$2 rc=0 arg is_hwca=0
  shift 2
  for arg in "$@"; do
    [[ $arg == hwca || $arg == hwca_pin || $arg == "$HWCA_BIN" ]] && is_hwca=1
  done
  "$@" >"$WORK/.fail.out" 2>"$WORK/.fail.err" || rc=$?
  cat "$WORK/.fail.err" >>"$STDERR_LOG"
  if [[ -n ${EXPECT_FAIL_IGNORE:-} ]]; then
    grep -Ev "$EXPECT_FAIL_IGNORE" "$WORK/.fail.err" >"$WORK/.fail.err2" || true
  else
    cp "$WORK/.fail.err" "$WORK/.fail.err2"
  fi
  local err
  err=$(cat "$WORK/.fail.err2")
  [[ $rc == "$code" ]] || fail "'$*' exited $rc, expected $code; stderr: $err"
  if ((is_hwca)); then
    local lines
    lines=$(wc -l <"$WORK/.fail.err2")
    [[ $lines == 1 && -n $err ]] || fail "'$*': stderr has $lines lines, expected one: $err"
    [[ $err == "hwca: "* ]] || fail "'$*': stderr does not start with 'hwca: ': $err"
    [[ $err != *[[:cntrl:]]* ]] || fail "'$*': stderr holds control characters: $(cat -A <<<"$err")"
  fi
  [[ $err == *"$text"* ]] || fail "'$*': stderr lacks '$text': $err"
  LAST_ERR=$err
}

# expect_ossl_fail TEXT CMD...: an openssl command must fail with TEXT in its stderr.
expect_ossl_fail() {
  local text=$1 rc=0
  shift
  "$@" >"$WORK/.fail.out" 2>"$WORK/.fail.err" || rc=$?
  cat "$WORK/.fail.err" >>"$STDERR_LOG"
  LAST_ERR=$(cat "$WORK/.fail.err")
  [[ $rc != 0 ]] || fail "'$*' succeeded, expected a failure with '$text'"
  [[ $LAST_ERR == *"$text"* ]] || fail "'$*': stderr lacks '$text': $LAST_ERR"
}

# assert_contains TEXT NEEDLE [WHAT]
assert_contains() {
  [[ $1 == *"$2"* ]] || fail "${3:-output} lacks '$2': $1"
}

# pub_digest: SHA-256 of the DER SubjectPublicKeyInfo of the PEM public key on stdin.
pub_digest() { openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }

# show_pem_digest URI: digest of the public key `hwca key show` prints.
show_pem_digest() {
  local out
  out=$(hwca_pin key show --key "$1")
  sed -n '/-----BEGIN PUBLIC KEY-----/,/-----END PUBLIC KEY-----/p' <<<"$out" | pub_digest
}

# csr_verifies FILE: `openssl req -verify` accepts FILE's self-signature. (OpenSSL 3.0 exits
# 0 even when the signature is bad, so the message is checked.)
csr_verifies() {
  local out
  out=$(openssl req -verify -noout -in "$1" 2>&1) || fail "req -verify $1: $out"
  [[ $out == *"verify OK"* && $out != *failure* ]] || fail "CSR $1 does not verify: $out"
}

# checked_csr LABEL: LABEL.csr, made by openssl with the token key through the provider; its
# self-signature verifies, and its public key is the one `hwca key show` prints and the one
# GnuTLS's p11tool reads from the token (independent of hwca's code).
checked_csr() {
  local label=$1 csr_key gnutls_key
  ossl req -new -config "$OSSL_CNF" -key "$(key_uri_pin "$label")" -subj "/CN=$label" \
    -out "$label.csr"
  csr_verifies "$label.csr"
  csr_key=$(openssl req -in "$label.csr" -pubkey -noout | pub_digest)
  [[ $csr_key == "$(show_pem_digest "$(key_uri "$label")")" ]] ||
    fail "$label: the CSR's public key differs from the one 'hwca key show' prints"
  gnutls_key=$(p11tool --provider "$SOFTHSM_MODULE" \
    --export "pkcs11:token=$TOKEN;object=$label;type=public" | pub_digest)
  [[ $gnutls_key == "$csr_key" ]] || fail "$label: p11tool reads another public key"
}

# Minimal OpenSSL configuration: CA extensions for self-signed certificates, leaf
# extensions for issued ones (so that GnuTLS and OpenSSL see v3 certificates).
OSSL_CNF=$WORK/openssl.cnf
cat >"$OSSL_CNF" <<'EOF'
[req]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
EOF

# gen_key TYPE LABEL: `hwca key generate`; checks the output names the new key.
gen_key() {
  local out
  out=$(hwca_pin key generate --key "$(key_uri "$2")" --type "$1")
  assert_contains "$out" "generated $1 key '$2'" "key generate"
  assert_contains "$out" "token=$TOKEN;object=$2;id=" "key generate"
}

# check_protected LABEL TYPE BITS: `hwca key show` reports a non-extractable token key.
check_protected() {
  local out flag
  out=$(hwca_pin key show --key "$(key_uri "$1")")
  assert_contains "$out" "type:               $2 ($3 bits)" "key show $1"
  for flag in "sensitive:          yes" "extractable:        no" "always-sensitive:   yes" \
    "never-extractable:  yes" "local:              yes"; do
    grep -qxF -- "$flag" <<<"$out" || fail "key show $1 lacks '$flag': $out"
  done
}

# make_ca LABEL CA-PEM [openssl req options...]: self-signed CA certificate with the token
# key (through the provider); `openssl verify` must accept it.
make_ca() {
  local label=$1 ca=$2
  shift 2
  ossl req -x509 -config "$OSSL_CNF" -key "$(key_uri_pin "$label")" -subj "/CN=hwca test $label" \
    -days 2 -out "$ca" "$@"
  openssl verify -CAfile "$ca" "$ca" >/dev/null || fail "openssl verify rejects $ca"
}

# issue_leaf LABEL CA-PEM LEAF-PEM [openssl x509 options...]: a leaf key made by plain
# openssl, its CSR signed with the token key; the chain must verify with stock openssl.
issue_leaf() {
  local label=$1 ca=$2 leaf=$3
  shift 3
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$leaf.key"
  openssl req -new -config "$OSSL_CNF" -key "$leaf.key" -subj /CN=leaf.example -out "$leaf.csr"
  ossl x509 -req -in "$leaf.csr" -CA "$ca" -CAkey "$(key_uri_pin "$label")" -set_serial 2 \
    -days 1 -extfile "$OSSL_CNF" -extensions v3_leaf -out "$leaf" "$@"
  local out
  out=$(openssl verify -CAfile "$ca" "$leaf" 2>&1) || fail "stock openssl rejects $leaf: $out"
  [[ $out == "$leaf: OK" ]] || fail "openssl verify $leaf: $out"
}

# home_state: a digest line per file of $HWCA_HOME, to show a refused request changed
# nothing. SQLite's -shm file is left out: it is a shared-memory index that any connection,
# even one that only reads, may rewrite; it holds no state of its own. So is an empty -wal
# file, which a connection may leave behind or remove as it closes.
home_state() {
  (cd "$HWCA_HOME" && find . -type f ! -name '*-shm' ! \( -name '*-wal' -empty \) | sort |
    xargs sha256sum)
}

# Documents of -o json|yaml.
#   yaml_to_json             the YAML on stdin as sorted compact JSON (python3-yaml, a reader
#                            independent of hwca's writer; YAML 1.1 rules: a date or "yes" left
#                            unquoted would come back as something else)
#   same_doc CMD...          run the hwca command CMD (one that only reads) with -o json and
#                            with -o yaml: both must parse and be equal; prints the JSON.
#                            residualTime (check-expiration) counts from the moment of each
#                            run, so it is left out of the comparison (output_hwca_k8s checks
#                            its value against openssl's dates)
yaml_to_json() {
  python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout, sort_keys=True, separators=(",", ":"), ensure_ascii=False)'
}
same_doc() {
  local json yaml
  json=$("$@" -o json) || fail "'$* -o json' failed"
  yaml=$("$@" -o yaml) || fail "'$* -o yaml' failed"
  local timeless='walk(if type == "object" then del(.residualTime) else . end)'
  [[ $(jq -S -c "$timeless" <<<"$json") == "$(yaml_to_json <<<"$yaml" | jq -S -c "$timeless")" ]] ||
    fail "'$*': -o yaml differs from -o json:"$'\n'"$json"$'\n'"$yaml"
  printf '%s\n' "$json"
}
