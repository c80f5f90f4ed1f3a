#!/usr/bin/env bash
# `hwca serve`, the EST server (RFC 7030), with curl and openssl as the outside client: a
# root CA (ec-p256) in a SoftHSM2 token serves cacerts and csrattrs; nodes enroll with
# single-use bootstrap tokens (HTTP Basic) and renew over mutual TLS; every bad token, every
# request outside the node policy and every bad body gets its status code, is audited with
# its reason and issues nothing; a refused request gives its token back and leaves the
# node's registered addresses alone. Silent clients, before or after the TLS handshake, are
# cut after --read-timeout without holding up the others; the metrics count what happened;
# the audit chain holds and no token text is in it. SIGTERM during concurrent renewals ends
# the server cleanly: every reply of 200 is a whole certificate that the database holds.
# sqlite3 moves a token's expiry into the past (--ttl is one minute at the least). Checks run
# in bash where they can: each process costs time, and there are some 150 requests.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=est_lib.sh
source "$here/est_lib.sh"
need curl jq sqlite3 timeout

export HWCA_HOME=$WORK/home
AUDIT=$HWCA_HOME/audit.log
DB=$HWCA_HOME/issuance.db
ROOT=$HWCA_HOME/cas/root/cert.pem
NODES=system:nodes
W1_SUBJ=/O=$NODES/CN=system:node:worker-1
W2_SUBJ=/O=$NODES/CN=system:node:worker-2
T_START=$SECONDS

# --- the server, stopped when the script exits ---------------------------------------------

BG_PIDS=()
_est_exit() {
  local rc=$? pid
  set +e  # under -e, `(exit $rc)` below would end the handler before the cleanup
  for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  est_serve_stop
  for pid in "${BG_PIDS[@]}"; do { wait "$pid"; } 2>/dev/null; done
  est_serve_logs
  (exit "$rc")
  _cleanup
}
trap _est_exit EXIT

# start_server [serve options...]: `hwca serve` for CA root on a free port of 127.0.0.1 in
# the background; waits (10 s at most) for its one line on stdout and sets SERVE_LINE, PORT,
# BASE, TLS_SERIAL, SERVE_OUT and SERVE_ERR.
start_server() {
  est_serve_start "$@"
  local re="^hwca serve: CA 'root' on https://127\.0\.0\.1:([0-9]+)/\.well-known/est/ \(TLS "
  re+="certificate ([0-9a-f]{40}) for localhost, 127\.0\.0\.1, key pkcs11:[^ ]*object=root-est-tls"
  [[ $SERVE_LINE =~ $re ]] || fail "hwca serve's line: $SERVE_LINE"
  PORT=${BASH_REMATCH[1]} TLS_SERIAL=${BASH_REMATCH[2]}
  ((PORT > 0 && PORT < 65536)) || fail "hwca serve: port $PORT"
  BASE=https://127.0.0.1:$PORT
}

# --- the client -----------------------------------------------------------------------------

# AUD: the audit log's lines, but the est.rejected.summary ones: the server writes one of
# those (the refusals of requests that never authenticated, summed up) at most once a
# minute, at the first request after the minute, and when it stops; section 10 checks them.
read_audit() { mapfile -t AUD < <(grep -vF '"event":"est.rejected.summary"' "$AUDIT"); }

# est PATH [curl options...]: one request (the CA's certificate the only trust anchor).
# CODE is the HTTP status, the reply in $WORK/resp.body, its headers in HDR (lower-case
# names); AUDIT_MARK the audit log's length before the request.
declare -A HDR=()
est() {
  local path=$1 rc=0 line
  shift
  read_audit
  AUDIT_MARK=${#AUD[@]}
  CODE=$(curl -sS --max-time 15 --cacert "$ROOT" -o "$WORK/resp.body" -D "$WORK/resp.hdr" \
    -w '%{http_code}' "$@" "$BASE$path" 2>"$WORK/curl.err") || rc=$?
  if [[ -s $WORK/curl.err ]]; then cat "$WORK/curl.err" >>"$STDERR_LOG"; fi
  ((rc == 0)) || fail "curl $BASE$path $*: exit $rc: $(cat "$WORK/curl.err")"
  HDR=()
  while IFS= read -r line; do
    line=${line%$'\r'}
    if [[ $line == *:* ]]; then HDR[${line%%:*}]=${line#*: }; fi
  done <"$WORK/resp.hdr"
  for line in "${!HDR[@]}"; do
    if [[ $line != "${line,,}" ]]; then
      HDR[${line,,}]=${HDR[$line]}
      unset "HDR[$line]"
    fi
  done
}
body() { cat "$WORK/resp.body"; }

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
# csr NAME KEY SUBJECT [openssl req options...]: NAME.der, a request for KEY.key, and
# NAME.b64, its base64 in lines of 64 as EST clients send it.
csr() {
  local name=$1 k=$2 subject=$3
  shift 3
  openssl req -new -config "$OSSL_CNF" -key "$k.key" -subj "$subject" -outform DER \
    -out "$name.der" "$@"
  openssl base64 -in "$name.der" -out "$name.b64"
}

# post OP LABEL NAME [curl options...]: POST NAME.b64 to [LABEL/]OP as application/pkcs10.
post() {
  local op=$1 label=$2 name=$3
  shift 3
  est "/.well-known/est/${label:+$label/}$op" -H "Content-Type: application/pkcs10" \
    --data-binary "@$name.b64" "$@"
}

# p7_certs FILE OUT: the certificates of the base64 certs-only PKCS#7 in FILE, in PEM, to
# OUT; P7_COUNT is how many. (The base64 may have CRLF line ends.)
p7_certs() {
  local line
  tr -d '\r' <"$1" | base64 -d >"$1.der" || fail "$1 is not base64: $(head -c 300 "$1" | cat -v)"
  openssl pkcs7 -inform DER -in "$1.der" -print_certs -out "$2" 2>"$WORK/p7.err" ||
    fail "$1 does not decode as a PKCS#7: $(cat "$WORK/p7.err") $(head -c 300 "$1" | cat -v)"
  P7_COUNT=0
  while IFS= read -r line; do
    if [[ $line == "-----BEGIN CERTIFICATE-----" ]]; then P7_COUNT=$((P7_COUNT + 1)); fi
  done <"$2"
}

# x509_info PEM: X_SERIAL (lower case, as hwca writes it), X_FP (SHA-256, as the audit log
# writes it), X_SUBJECT, X_PUB and X_EXT[name] (one line per extension), from one openssl.
declare -A X_EXT=()
x509_info() {
  local line name="" out
  out=$(openssl x509 -in "$1" -noout -serial -fingerprint -sha256 -subject \
    -ext basicConstraints,extendedKeyUsage,subjectAltName,keyUsage -pubkey 2>/dev/null) ||
    fail "$1 is not a certificate"
  X_EXT=() X_PUB=""
  while IFS= read -r line; do
    case $line in
      serial=*) X_SERIAL=${line#serial=} X_SERIAL=${X_SERIAL,,} ;;
      "sha256 Fingerprint="*) X_FP=${line#*=} ;;
      subject=*) X_SUBJECT=${line#subject=} ;;
      "X509v3 "*) name=${line#X509v3 } name=${name%%:*} ;;
      "    "*) if [[ -n $name ]]; then X_EXT[$name]=${line#    }; fi ;;
      -----*PUBLIC*) name="" X_PUB+=$line$'\n' ;;
      *) if [[ -n $X_PUB ]]; then X_PUB+=$line$'\n'; fi ;;
    esac
  done <<<"$out"
}

declare -A KEY_PUB=()
key_pub() { [[ -n ${KEY_PUB[$1]:-} ]] || KEY_PUB[$1]=$(openssl pkey -in "$1.key" -pubout)$'\n'; }

# issued NAME KEY KIND NODE [SANS]: the reply is 200 and one certificate, NAME.pem, for
# KEY.key; a kubelet KIND (client: clientAuth only, no SAN; serving: serverAuth only, SANS
# exactly) certificate of NODE, not a CA, that openssl verifies for its purpose against the
# CA. The request added exactly one audit line, its cert.issued (serial, SHA-256, profile).
# SERIAL is its serial; ISSUED_SERIALS gathers them.
ISSUED_SERIALS=()
declare -A ISSUED_BY_PROFILE=()
issued() {
  local name=$1 k=$2 kind=$3 node=$4 sans=${5:-} eku purpose out last
  [[ $CODE == 200 ]] || fail "$name: status $CODE, expected 200: $(body)"
  [[ ${HDR[content-type]:-} == "application/pkcs7-mime; smime-type=certs-only" ]] ||
    fail "$name: content type '${HDR[content-type]:-}'"
  [[ ${HDR[content-transfer-encoding]:-} == base64 ]] ||
    fail "$name: Content-Transfer-Encoding '${HDR[content-transfer-encoding]:-}'"
  p7_certs "$WORK/resp.body" "$name.pem"
  ((P7_COUNT == 1)) || fail "$name: the reply holds $P7_COUNT certificates, expected 1"
  x509_info "$name.pem"
  SERIAL=$X_SERIAL
  key_pub "$k"
  [[ $X_PUB == "${KEY_PUB[$k]}" ]] || fail "$name.pem does not carry the request's key"
  [[ $X_SUBJECT == "O = $NODES, CN = system:node:$node" ]] || fail "$name.pem: subject '$X_SUBJECT'"
  [[ ${X_EXT[Basic Constraints]:-} == CA:FALSE ]] ||
    fail "$name.pem: basicConstraints '${X_EXT[Basic Constraints]:-}'"
  [[ ${X_EXT[Key Usage]:-} == "Digital Signature" ]] || fail "$name.pem: keyUsage '${X_EXT[Key Usage]:-}'"
  if [[ $kind == client ]]; then
    eku="TLS Web Client Authentication" purpose=sslclient
  else
    eku="TLS Web Server Authentication" purpose=sslserver
  fi
  [[ ${X_EXT[Extended Key Usage]:-} == "$eku" ]] ||
    fail "$name.pem: extended key usage '${X_EXT[Extended Key Usage]:-}', expected only $eku"
  [[ ${X_EXT[Subject Alternative Name]:-} == "$sans" ]] ||
    fail "$name.pem: SANs '${X_EXT[Subject Alternative Name]:-}', expected '$sans'"
  out=$(openssl verify -CAfile "$ROOT" -purpose "$purpose" "$name.pem" 2>&1) ||
    fail "openssl verify -purpose $purpose $name.pem: $out"
  [[ $out == "$name.pem: OK" ]] || fail "openssl verify $name.pem: $out"
  read_audit
  ((${#AUD[@]} == AUDIT_MARK + 1)) ||
    fail "$name: the enrollment added $((${#AUD[@]} - AUDIT_MARK)) audit lines, expected 1"
  last=${AUD[-1]}
  [[ $last == *'"event":"cert.issued"'* && $last == *"\"serial\":\"$SERIAL\""* &&
    $last == *"\"sha256\":\"$X_FP\""* ]] ||
    fail "$name.pem ($SERIAL, SHA-256 $X_FP): the audit line is $last"
  [[ $last == *"\"profile\":\"kubelet-$kind\""* ]] || fail "$name.pem: audited as $last"
  ISSUED_SERIALS+=("$SERIAL")
  ISSUED_BY_PROFILE[kubelet-$kind]=$((${ISSUED_BY_PROFILE[kubelet-$kind]:-0} + 1))
}

# refused CODE REASON WHAT: the last request got CODE (401: with a Basic challenge). A
# request that never authenticated (REASON token, auth, malformed or content_type) added no
# audit line: it is summed up in est.rejected.summary. Any other added exactly one:
# est.rejected with REASON (so nothing was issued).
declare -A REJECTED=()
SUMMED_UP=" token auth malformed content_type "
refused() {
  local code=$1 reason=$2 what=$3 last
  [[ $CODE == "$code" ]] || fail "$what: status $CODE, expected $code: $(body)"
  if [[ $code == 401 ]]; then
    [[ ${HDR[www-authenticate]:-} == "Basic "* ]] ||
      fail "$what: 401 without a Basic challenge (WWW-Authenticate: '${HDR[www-authenticate]:-}')"
  fi
  read_audit
  REJECTED[$reason]=$((${REJECTED[$reason]:-0} + 1))
  if [[ $SUMMED_UP == *" $reason "* ]]; then
    ((${#AUD[@]} == AUDIT_MARK)) ||
      fail "$what: audited one by one, not summed up: ${AUD[*]:AUDIT_MARK}"
    return 0
  fi
  ((${#AUD[@]} == AUDIT_MARK + 1)) ||
    fail "$what: $((${#AUD[@]} - AUDIT_MARK)) audit lines, expected 1 (est.rejected): ${AUD[*]:AUDIT_MARK}"
  last=${AUD[-1]}
  [[ $last == *'"event":"est.rejected"'* ]] || fail "$what: audited $last"
  [[ $last == *"\"reason\":\"$reason\""* ]] || fail "$what: audited reason is not '$reason': $last"
}

TOKENS=()
# new_token NODE [create options...]: TOKEN, a new bootstrap token; TOKEN_ID its id
# (est_lib.sh's token_state ID tells its state).
new_token() {
  local node=$1
  shift
  TOKEN=$(hwca bootstrap create --node "$node" "$@" 2>/dev/null)  # stderr kept in STDERR_LOG
  [[ $TOKEN =~ ^[a-z0-9]{6}\.[a-z0-9]{32}$ ]] || fail "bootstrap create printed '$TOKEN'"
  TOKEN_ID=${TOKEN%%.*}
  TOKENS+=("$TOKEN")
}

# --- the CA and the server ------------------------------------------------------------------

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 \
  --subject "/CN=hwca est test root/O=hwca" >/dev/null
# The eight renewal loops of section 11 all connect from 127.0.0.1: room for them beside
# the connections that are closing.
start_server --read-timeout 2 --max-body 4096 --max-client-connections 32
assert_contains "$SERVE_LINE" "(made now)" "the first start's line"
# The server's TLS certificate: issued by the CA at start (audited, in the database as a
# server certificate), for both names; curl takes it with the CA's certificate alone, by
# either name, and refuses it without (exit 60).
hwca cert list --ca root | awk 'NR > 1 {print $1, $3}' | grep -xF "$TLS_SERIAL server" >/dev/null ||
  fail "the server's TLS certificate $TLS_SERIAL is not in 'hwca cert list' as a server one"
grep -F "\"serial\":\"$TLS_SERIAL\"" "$AUDIT" | grep -F '"event":"cert.issued"' | grep -F '"profile":"server"' >/dev/null ||
  fail "the server's TLS certificate is not audited"
openssl s_client -connect "127.0.0.1:$PORT" -servername localhost </dev/null 2>/dev/null |
  sed -n '/BEGIN CERT/,/END CERT/p' >tls.pem
x509_info tls.pem
[[ $X_SERIAL == "$TLS_SERIAL" ]] || fail "the server presents certificate $X_SERIAL, not $TLS_SERIAL"
[[ ${X_EXT[Subject Alternative Name]:-} == "DNS:localhost, IP Address:127.0.0.1" ]] ||
  fail "the server's TLS SANs: ${X_EXT[Subject Alternative Name]:-}"
CODE=$(curl -sS --max-time 10 --cacert "$ROOT" -o /dev/null -w '%{http_code}' \
  --resolve "localhost:$PORT:127.0.0.1" "https://localhost:$PORT/healthz") ||
  fail "curl by the name localhost"
[[ $CODE == 200 ]] || fail "healthz by the name localhost: $CODE"
rc=0
curl -sS --max-time 10 -o /dev/null "$BASE/healthz" 2>/dev/null || rc=$?
[[ $rc == 60 ]] || fail "curl without --cacert: exit $rc, expected 60"

# --- 1. cacerts, csrattrs, healthz ------------------------------------------------------------

est /.well-known/est/cacerts
[[ $CODE == 200 ]] || fail "cacerts: $CODE: $(body)"
[[ ${HDR[content-type]:-} == "application/pkcs7-mime; smime-type=certs-only" ]] ||
  fail "cacerts: content type '${HDR[content-type]:-}'"
p7_certs "$WORK/resp.body" cacerts.pem
((P7_COUNT == 1)) || fail "cacerts holds $P7_COUNT certificates, expected the root alone"
[[ $(openssl x509 -in cacerts.pem -noout -fingerprint -sha256) == \
  "$(openssl x509 -in "$ROOT" -noout -fingerprint -sha256)" ]] ||
  fail "cacerts is not the CA certificate of the home"
est /.well-known/est/kubelet-serving/cacerts
[[ $CODE == 200 ]] || fail "cacerts under a label: $CODE"
p7_certs "$WORK/resp.body" cacerts2.pem
cmp -s cacerts.pem cacerts2.pem || fail "cacerts under a label differs"

est /healthz
[[ $CODE == 200 && $(body) == "ok: the issuance database answered in "*" ms" ]] ||
  fail "healthz: $CODE $(body)"
[[ $(body) != */* ]] || fail "healthz names a path: $(body)"

est /.well-known/est/csrattrs
[[ $CODE == 200 ]] || fail "csrattrs: $CODE: $(body)"
[[ ${HDR[content-type]:-} == application/csrattrs* ]] ||
  fail "csrattrs: content type '${HDR[content-type]:-}'"
tr -d '\r' <"$WORK/resp.body" | base64 -d >csrattrs.der || fail "csrattrs is not base64: $(body)"
out=$(openssl asn1parse -inform DER -in csrattrs.der) || fail "csrattrs does not parse: $out"
[[ $(head -n 1 <<<"$out") == *"cons: SEQUENCE"* ]] || fail "csrattrs is not a SEQUENCE: $out"
for word in ecdsa-with-SHA256 id-ecPublicKey prime256v1; do
  assert_contains "$out" "$word" "csrattrs"
done

# --- 2. the first enrollment with a bootstrap token -------------------------------------------

new_token worker-1 --ip 10.0.0.5 --ttl 30m
W1_TOKEN=$TOKEN W1_ID=$TOKEN_ID
[[ $(token_state "$W1_ID") == valid ]] || fail "a new token is $(token_state "$W1_ID")"
key w1
csr w1 w1 "$W1_SUBJ"
post simpleenroll "" w1 -u "worker-1:$W1_TOKEN"
issued w1 w1 client worker-1
W1_SERIAL=$SERIAL
hwca cert list --ca root | awk -v s="$W1_SERIAL" '$1 == s {print $3, $4}' |
  grep -x "kubelet-client valid" >/dev/null || fail "cert list: $W1_SERIAL is not a valid kubelet-client certificate"
[[ ${AUD[-1]} == *'"requester":"est:worker-1 (bootstrap token '"$W1_ID"')"'* ]] ||
  fail "the cert.issued line does not name the node and the token's id: ${AUD[-1]}"
[[ $(token_state "$W1_ID") == used ]] || fail "the token is $(token_state "$W1_ID") after use"
# Not a CA: a certificate it signs does not verify.
key below
openssl req -new -config "$OSSL_CNF" -key below.key -subj /CN=below -out below.csr
openssl x509 -req -in below.csr -CA w1.pem -CAkey w1.key -set_serial 9 -days 1 -out below.pem 2>/dev/null
! openssl verify -CAfile "$ROOT" -untrusted w1.pem below.pem >/dev/null 2>&1 ||
  fail "a certificate signed with w1.pem verifies: it acts as a CA"

# --- 3. bad tokens: 401, nothing issued -------------------------------------------------------

post simpleenroll "" w1 -u "worker-1:$W1_TOKEN"
refused 401 token "the same token again"
# A token of the right form whose id is unknown.
post simpleenroll "" w1 -u "worker-1:zzzzzz.$(rev <<<"${W1_TOKEN#*.}")"
refused 401 token "an unknown token"
# The right id with a wrong secret: refused, and the token stays valid.
new_token worker-1 --ip 10.0.0.5
spare=$TOKEN spare_id=$TOKEN_ID
post simpleenroll "" w1 -u "worker-1:$spare_id.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
refused 401 token "a token's id with a wrong secret"
# A revoked token.
new_token worker-1
hwca bootstrap revoke "$TOKEN_ID" >/dev/null
post simpleenroll "" w1 -u "worker-1:$TOKEN"
refused 401 token "a revoked token"
# A token of worker-2 used by worker-3 (for a request that suits worker-3).
new_token worker-2
key w3
csr w3 w3 /O=$NODES/CN=system:node:worker-3
post simpleenroll "" w3 -u "worker-3:$TOKEN"
refused 401 token "worker-2's token used by worker-3"
[[ $(token_state "$TOKEN_ID") == valid ]] || fail "the foreign use spent worker-2's token"
# An expired token. --ttl counts in minutes at the least (1s is refused), too long to wait
# for here: the expiry is moved into the past in the database, as a clock a minute later
# would find it.
expect_fail 2 "--ttl takes a duration such as 30m" hwca bootstrap create --node worker-1 --ttl 1s
new_token worker-1 --ttl 1m
sqlite3 "$DB" "UPDATE bootstrap_tokens SET expires_at = strftime('%s', 'now') - 1 WHERE id = '$TOKEN_ID'"
[[ $(token_state "$TOKEN_ID") == expired ]] || fail "the token is $(token_state "$TOKEN_ID"), not expired"
post simpleenroll "" w1 -u "worker-1:$TOKEN"
refused 401 token "an expired token"
# Passwords that are not tokens, a user that is not a node name, no credentials at all.
post simpleenroll "" w1 -u "worker-1:not-a-token"
refused 401 token "a malformed password"
post simpleenroll "" w1 -u "worker-1:${spare^^}"
refused 401 token "a token in upper case"
post simpleenroll "" w1 -u "worker-1:$spare "
refused 401 token "a token with a trailing space"
post simpleenroll "" w1 -u "Worker_1:$spare"
refused 401 auth "a user name that is no node name"
post simpleenroll "" w1
refused 401 auth "no credentials"
post simpleenroll "" w1 -H "Authorization: Bearer $spare"
refused 401 auth "a token as a Bearer credential"
[[ $(token_state "$spare_id") == valid ]] || fail "the spare token is $(token_state "$spare_id")"

# --- 4. the node policy: 403, and the token is given back --------------------------------------

# policy REASON WHAT SUBJECT [openssl req options...]: with a new token of worker-2, a request
# of SUBJECT is refused with 403 and REASON; the same token then enrolls worker-2 (so it was
# given back), and is spent after that.
key w2
csr w2 w2 "$W2_SUBJ"
N_POLICY=0
policy() {
  local reason=$1 what=$2 subject=$3
  shift 3
  N_POLICY=$((N_POLICY + 1))
  new_token worker-2
  csr "bad$N_POLICY" w2 "$subject" "$@"
  post simpleenroll "" "bad$N_POLICY" -u "worker-2:$TOKEN"
  refused 403 "$reason" "$what"
  post simpleenroll "" w2 -u "worker-2:$TOKEN"
  issued "w2-$N_POLICY" w2 client worker-2
  post simpleenroll "" w2 -u "worker-2:$TOKEN"
  refused 401 token "$what: the token used after it was given back"
}
policy subject "the CN of another node" "$W1_SUBJ"
policy group "O=system:masters alone" /O=system:masters/CN=system:node:worker-2
policy group "O=system:masters added" /O=$NODES/O=system:masters/CN=system:node:worker-2
policy san "a SAN on a client request" "$W2_SUBJ" -addext "subjectAltName=DNS:worker-2"
policy subject "an extra OU" /O=$NODES/OU=ops/CN=system:node:worker-2
policy ca "CA:TRUE" "$W2_SUBJ" -addext "basicConstraints=critical,CA:TRUE"
policy group "no O" /CN=system:node:worker-2
policy subject "a CN without the system:node: prefix" /O=$NODES/CN=worker-2

# --- 5. kubelet-serving over mutual TLS --------------------------------------------------------

key s1
csr s1 s1 "$W1_SUBJ" -addext "subjectAltName=DNS:worker-1,IP:10.0.0.5"
post simpleenroll kubelet-serving s1 --cert w1.pem --key w1.key
issued s1 s1 serving worker-1 "DNS:worker-1, IP Address:10.0.0.5"
csr s2 s1 "$W1_SUBJ" -addext "subjectAltName=DNS:worker-1,IP:10.9.9.9"
post simpleenroll kubelet-serving s2 --cert w1.pem --key w1.key
refused 403 san "a serving request for an address the node did not register"
csr s3 s1 "$W1_SUBJ" -addext "subjectAltName=DNS:worker-2"
post simpleenroll kubelet-serving s3 --cert w1.pem --key w1.key
refused 403 san "a serving request for another node's name"
csr s4 s1 "$W1_SUBJ"
post simpleenroll kubelet-serving s4 --cert w1.pem --key w1.key
refused 403 san "a serving request without SANs"
# A serving certificate (serverAuth only) and a certificate the CA did not issue do not get
# through the TLS handshake (OpenSSL's check of the client certificate); nothing is issued,
# nothing audited.
openssl req -new -x509 -config "$OSSL_CNF" -key w1.key -subj "$W1_SUBJ" -days 1 -out fake.pem
read_audit
AUDIT_MARK=${#AUD[@]}
for pair in s1.pem:s1.key fake.pem:w1.key; do
  rc=0
  curl -sS --max-time 10 --cacert "$ROOT" --cert "${pair%%:*}" --key "${pair#*:}" -o curl.out \
    -H "Content-Type: application/pkcs10" --data-binary @w1.b64 \
    "$BASE/.well-known/est/simplereenroll" 2>curl.err || rc=$?
  ((rc != 0)) || fail "client certificate ${pair%%:*} got through the TLS handshake: $(cat curl.out)"
done
read_audit
((${#AUD[@]} == AUDIT_MARK)) || fail "a client the handshake refused changed the audit log: ${AUD[-1]}"

# --- 6. simplereenroll ---------------------------------------------------------------------

# The same key and subject.
post simplereenroll "" w1 --cert w1.pem --key w1.key
issued r1 w1 client worker-1
[[ $SERIAL != "$W1_SERIAL" ]] || fail "the renewal has the serial of the certificate it renews"
# A new key: refused through either endpoint (a renewal keeps the key of the client
# certificate, issue 14); a new key takes a fresh enrollment with a bootstrap token.
key r2
csr r2 r2 "$W1_SUBJ"
post simplereenroll "" r2 --cert w1.pem --key w1.key
refused 403 key "a renewal for a new key"
[[ $(body) == *"hwca-node enroll --new-key"* ]] || fail "the key refusal says: $(body)"
post simpleenroll "" r2 --cert w1.pem --key w1.key
refused 403 key "simpleenroll for a new key with the client certificate"
new_token worker-1 --ip 10.0.0.5
post simpleenroll "" r2 -u "worker-1:$TOKEN"
issued r2 r2 client worker-1
# Without the client certificate, even with a valid token: 401 (and the token is not spent).
post simplereenroll "" w1
refused 401 auth "simplereenroll without a client certificate"
post simplereenroll "" w1 -u "worker-1:$spare"
refused 401 auth "simplereenroll with a token"
# Another subject, and a SAN added.
post simplereenroll "" w2 --cert w1.pem --key w1.key
refused 403 subject "a renewal for worker-2's subject"
csr r3 r2 "$W1_SUBJ" -addext "subjectAltName=DNS:worker-1"
post simplereenroll "" r3 --cert w1.pem --key w1.key
refused 403 san "a renewal adding a SAN"
# worker-1's certificate does not enroll worker-2 either.
post simpleenroll "" w2 --cert w1.pem --key w1.key
refused 403 subject "simpleenroll for worker-2 with worker-1's certificate"
# Revoked, the certificate no longer authenticates; the newer one still does.
out=$(hwca revoke --ca root "$W1_SERIAL" --reason superseded)
[[ $out == "revoked $W1_SERIAL (superseded)" ]] || fail "hwca revoke: $out"
post simplereenroll "" w1 --cert w1.pem --key w1.key
refused 401 auth "renewal with a revoked client certificate"
post simpleenroll "" w1 --cert w1.pem --key w1.key
refused 401 auth "simpleenroll with a revoked client certificate"
post simplereenroll "" r2 --cert r2.pem --key r2.key
issued r4 r2 client worker-1

# --- 7. bad bodies ------------------------------------------------------------------------

printf 'this is *not* base64!\n' >nob64.b64
post simpleenroll "" nob64 --cert r2.pem --key r2.key
refused 400 malformed "a body that is not base64"
printf 'garbage garbage garbage' | openssl base64 >garbage.b64
post simpleenroll "" garbage --cert r2.pem --key r2.key
refused 400 malformed "base64 of garbage"
printf '\x30\x03\x02\x01\x00' | openssl base64 >seq.b64
post simpleenroll "" seq --cert r2.pem --key r2.key
refused 400 malformed "base64 of a DER SEQUENCE that is no request"
openssl req -inform DER -in r2.der | openssl base64 >pem.b64
post simpleenroll "" pem --cert r2.pem --key r2.key
refused 400 malformed "a PEM request in base64"
assert_contains "$(body)" "PEM" "the reply to a PEM request"
# A request whose signature is broken (its last byte changed).
last=$(tail -c 1 r2.der | od -An -tu1)
{ head -c -1 r2.der; printf '%b' "\\x$(printf '%02x' $((last ^ 1)))"; } | openssl base64 >badsig.b64
post simplereenroll "" badsig --cert r2.pem --key r2.key
refused 400 malformed "a request whose signature does not verify"
: >empty.b64
post simpleenroll "" empty --cert r2.pem --key r2.key
refused 400 malformed "an empty body"
# Bad bodies with a bootstrap token: refused before the token is claimed.
post simpleenroll "" garbage -u "worker-1:$spare"
refused 400 malformed "garbage with a bootstrap token"
est /.well-known/est/simpleenroll -H "Content-Type: text/plain" --data-binary @r2.b64 -u "worker-1:$spare"
refused 415 content_type "text/plain with a bootstrap token"
[[ $(token_state "$spare_id") == valid ]] || fail "a refused body spent the token"
est /.well-known/est/simpleenroll --data-binary @r2.b64 --cert r2.pem --key r2.key
refused 415 content_type "no content type (curl's form type)"
# Just under --max-body 4096, a body goes through to the service (and is refused there);
# larger, it gets 413 from the HTTP library, before the route (not audited).
head -c 4000 /dev/zero | tr '\0' A >under.b64
post simpleenroll "" under --cert r2.pem --key r2.key
refused 400 malformed "a body under --max-body that is no request"
routing_mark=${#AUD[@]}
head -c 6000 /dev/zero | tr '\0' A >big.b64
post simpleenroll "" big --cert r2.pem --key r2.key
[[ $CODE == 413 ]] || fail "a body over --max-body: $CODE, expected 413: $(body)"
est /.well-known/est/nosuch/simpleenroll -H "Content-Type: application/pkcs10" \
  --data-binary @r2.b64 --cert r2.pem --key r2.key
[[ $CODE == 404 ]] || fail "an unknown label: $CODE, expected 404: $(body)"
est /.well-known/est/nosuch/csrattrs
[[ $CODE == 404 ]] || fail "csrattrs of an unknown label: $CODE, expected 404"
est /.well-known/est/simpleenroll/extra
[[ $CODE == 404 ]] || fail "a path below simpleenroll: $CODE, expected 404"
est /.well-known/est/simpleenroll --cert r2.pem --key r2.key
[[ $CODE == 405 ]] || fail "GET on simpleenroll: $CODE, expected 405: $(body)"
[[ ${HDR[allow]:-} == POST ]] || fail "GET on simpleenroll: Allow '${HDR[allow]:-}'"
est /.well-known/est/cacerts -H "Content-Type: application/pkcs10" --data-binary @r2.b64
[[ $CODE == 405 ]] || fail "POST on cacerts: $CODE, expected 405"
# None of these six was audited (refused before any enrollment is looked at).
read_audit
((${#AUD[@]} == routing_mark)) || fail "a refusal by the HTTP layer was audited: ${AUD[-1]}"

# --- 8. a silent client ------------------------------------------------------------------------

exec {silent}<>"/dev/tcp/127.0.0.1/$PORT"
t0=$(date +%s%N)
est /healthz
t1=$(date +%s%N)
[[ $CODE == 200 ]] || fail "healthz beside a silent connection: $CODE"
(((t1 - t0) / 1000000 < 1500)) || fail "healthz took $(((t1 - t0) / 1000000)) ms beside a silent connection"
post simplereenroll "" r2 --cert r2.pem --key r2.key
issued r5 r2 client worker-1
# The server closes the silent connection after --read-timeout 2 (the TLS handshake
# included): reading it ends (EOF, or a reset) well before 8 s.
rc=0
timeout 8 cat <&"$silent" >silent.out 2>/dev/null || rc=$?
t2=$(date +%s%N)
exec {silent}<&-
((rc != 124)) || fail "the silent connection is still open after 8 s (--read-timeout 2)"
ms=$(((t2 - t0) / 1000000))
((ms >= 1500 && ms <= 5000)) || fail "the silent connection was closed after $ms ms, --read-timeout is 2 s"
[[ ! -s silent.out ]] || fail "the server wrote to a client that sent nothing: $(cat -v silent.out)"

# --- 9. metrics ----------------------------------------------------------------------------

est /metrics
[[ $CODE == 200 ]] || fail "metrics: $CODE"
declare -A M=()
while read -r name value; do
  if [[ $name != \#* ]]; then M[$name]=$value; fi
done <"$WORK/resp.body"
metric() { printf '%s' "${M[$1]:-0}"; }
client=${ISSUED_BY_PROFILE[kubelet-client]} serving=${ISSUED_BY_PROFILE[kubelet-serving]}
[[ $(metric 'hwca_est_issued_total{label="kubelet-client"}') == "$client" ]] ||
  fail "metrics: kubelet-client issued '$(metric 'hwca_est_issued_total{label="kubelet-client"}')', expected $client"
[[ $(metric 'hwca_est_issued_total{label="kubelet-serving"}') == "$serving" ]] ||
  fail "metrics: kubelet-serving issued '$(metric 'hwca_est_issued_total{label="kubelet-serving"}')', expected $serving"
for reason in token auth subject group san ca malformed content_type; do
  ((${REJECTED[$reason]:-0} > 0)) || fail "the test refused nothing for '$reason'"
done
for reason in "${!REJECTED[@]}"; do
  [[ $(metric "hwca_est_rejected_total{reason=\"$reason\"}") == "${REJECTED[$reason]}" ]] ||
    fail "metrics: rejected{reason=\"$reason\"} '$(metric "hwca_est_rejected_total{reason=\"$reason\"}")', expected ${REJECTED[$reason]}"
done
n=0
for name in "${!M[@]}"; do
  if [[ $name == hwca_est_rejected_total\{* ]]; then n=$((n + 1)); fi
done
((n == ${#REJECTED[@]})) || fail "metrics: $n rejection reasons, expected ${#REJECTED[@]} (${!REJECTED[*]})"
for code in 200 400 401 403 404 405 413 415; do
  found=0
  for name in "${!M[@]}"; do
    if [[ $name == "hwca_est_requests_total{endpoint=\""*"\",code=\"$code\"}" ]] && ((${M[$name]} > 0)); then
      found=1
    fi
  done
  ((found)) || fail "metrics: no request counted with code $code"
done
ok200=$(($(metric 'hwca_est_requests_total{endpoint="simpleenroll",code="200"}') +
  $(metric 'hwca_est_requests_total{endpoint="simplereenroll",code="200"}')))
((ok200 == client + serving)) || fail "metrics: $ok200 enrollments answered 200, $((client + serving)) issued"
n413=$(($(metric 'hwca_est_requests_total{endpoint="simpleenroll",code="413"}') +
  $(metric 'hwca_est_requests_total{endpoint="other",code="413"}')))
((n413 == 1)) || fail "metrics: the 413 is counted $n413 times"
n401=$(($(metric 'hwca_est_requests_total{endpoint="simpleenroll",code="401"}') +
  $(metric 'hwca_est_requests_total{endpoint="simplereenroll",code="401"}')))
((n401 == REJECTED[token] + REJECTED[auth])) ||
  fail "metrics: the 401s do not match the token and auth refusals"
[[ $(metric hwca_est_signing_seconds_count) == $((client + serving)) ]] ||
  fail "metrics: signing_seconds_count $(metric hwca_est_signing_seconds_count), expected $((client + serving))"
[[ $(metric 'hwca_est_signing_seconds_bucket{le="+Inf"}') == $((client + serving)) ]] ||
  fail "metrics: the +Inf bucket"
[[ $(metric hwca_est_token_errors_total) == 0 ]] || fail "metrics: token errors"
grep -q '^# TYPE hwca_est_signing_seconds histogram$' "$WORK/resp.body" || fail "metrics: histogram TYPE"
# Every enrollment read and wrote the database (at least: the revocation check, the record):
# each call is timed; none failed for the database's sake.
(($(metric hwca_database_seconds_count) >= 2 * (client + serving))) ||
  fail "metrics: $(metric hwca_database_seconds_count) database calls for $((client + serving)) enrollments"
[[ $(metric 'hwca_database_seconds_bucket{le="+Inf"}') == "$(metric hwca_database_seconds_count)" ]] ||
  fail "metrics: the database histogram's +Inf bucket"
[[ $(metric hwca_database_errors_total) == 0 ]] || fail "metrics: database errors"

# --- 10. the audit log --------------------------------------------------------------------

out=$(hwca audit verify)
assert_contains "$out" "$(wc -l <"$AUDIT") events, the hash chain is intact" "audit verify"
read_audit
declare -A AUDITED=()
total=0
for line in "${AUD[@]}"; do
  [[ $line == *'"event":"est.rejected"'* ]] || continue
  [[ $line =~ \"reason\":\"([a-z_]+)\" ]] || fail "audit: est.rejected without a reason: $line"
  AUDITED[${BASH_REMATCH[1]}]=$((${AUDITED[${BASH_REMATCH[1]}]:-0} + 1))
  total=$((total + 1))
  [[ $line == *'"ca":"root"'* && $line == *'"peer":"127.0.0.1:'* && $line == *'"message":"'[^\"]* ]] ||
    fail "audit: est.rejected without its CA, peer or message: $line"
done
lined=0
for reason in "${!REJECTED[@]}"; do
  [[ $SUMMED_UP == *" $reason "* ]] && continue
  lined=$((lined + 1))
  [[ ${AUDITED[$reason]:-0} == "${REJECTED[$reason]}" ]] ||
    fail "audit: ${AUDITED[$reason]:-0} est.rejected '$reason' lines, expected ${REJECTED[$reason]}"
done
((${#AUDITED[@]} == lined)) || fail "audit: reasons ${!AUDITED[*]} on lines of their own"
# No token's text, nor its secret part, in the audit log, the server's output, the stderr
# of the commands, or the database.
for t in "${TOKENS[@]}"; do
  for f in "$AUDIT" "$SERVE_ERR" "$SERVE_OUT" "$STDERR_LOG"; do
    ! grep -qF -e "${t#*.}" "$f" || fail "a token's secret is in $(basename "$f")"
  done
  ! grep -qaF -e "${t#*.}" "$DB" || fail "a token's secret is in the database"
done

# --- 11. SIGTERM during concurrent renewals -------------------------------------------------

# Eight clients renew in a loop (each reply kept) until the server goes away.
renew_loop() {
  local w=$1 i code rc
  for i in $(seq 200); do
    rc=0
    code=$(curl -sS --max-time 15 --cacert "$ROOT" --cert r2.pem --key r2.key \
      -H "Content-Type: application/pkcs10" --data-binary @r2.b64 -o "loop/$w.$i.body" \
      -w '%{http_code}' "$BASE/.well-known/est/simplereenroll" 2>"loop/$w.$i.err") || rc=$?
    echo "$w $i $rc $code" >>"loop/$w.log"
    ((rc == 0)) || break
  done
}
mkdir loop
for w in 1 2 3 4 5 6 7 8; do
  renew_loop "$w" &
  BG_PIDS+=("$!")
done
# Once sixteen renewals are through, stop the server while others are in flight.
for _ in $(seq 200); do
  (($(cat loop/*.log 2>/dev/null | wc -l) >= 16)) && break
  sleep 0.05
done
kill -TERM "$SERVE_PID"
t0=$(date +%s%N)
for _ in $(seq 100); do
  kill -0 "$SERVE_PID" 2>/dev/null || break
  sleep 0.05
done
kill -0 "$SERVE_PID" 2>/dev/null && fail "hwca serve still runs 5 s after SIGTERM"
rc=0
wait "$SERVE_PID" || rc=$?
stop_ms=$((($(date +%s%N) - t0) / 1000000))
SERVE_PID=""
((rc == 0)) || fail "hwca serve exited $rc after SIGTERM: $(cat "$SERVE_ERR")"
[[ $(tail -n 1 "$SERVE_OUT") == "hwca serve: stopped" ]] || fail "hwca serve's last line: $(tail -n 1 "$SERVE_OUT")"
# The refusals of requests that never authenticated: summed up, at most a line a minute and
# one at the stop, each counted in exactly one (and no summary line is empty).
for reason in ${SUMMED_UP}; do
  n=$(jq -s --arg r "$reason" '[.[] | select(.event == "est.rejected.summary") | .data.reasons[$r] // 0] | add // 0' "$AUDIT")
  [[ $n == "${REJECTED[$reason]}" ]] ||
    fail "audit: the summaries count $n '$reason' refusals, expected ${REJECTED[$reason]}"
done
summaries=$(grep -cF '"event":"est.rejected.summary"' "$AUDIT")
((summaries >= 1)) || fail "audit: no est.rejected.summary line after the stop"
! jq -e 'select(.event == "est.rejected.summary" and .data.total == 0)' "$AUDIT" >/dev/null ||
  fail "audit: an empty summary"
assert_contains "$(cat "$SERVE_ERR")" "hwca serve: SIGTERM: finishing the requests in flight" "serve's stderr"
for pid in "${BG_PIDS[@]}"; do wait "$pid" || fail "a renewal loop failed"; done
BG_PIDS=()
ok_count=0 cut=0
declare -A LOOP_SERIALS=()
while read -r w i rc code; do
  if ((rc == 0)); then
    [[ $code == 200 ]] || fail "renewal $w.$i: status $code during the stop: $(cat "loop/$w.$i.body")"
    p7_certs "loop/$w.$i.body" "loop/$w.$i.pem"
    ((P7_COUNT == 1)) || fail "renewal $w.$i: $P7_COUNT certificates in a reply of 200"
    x509_info "loop/$w.$i.pem"
    [[ $X_SUBJECT == "O = $NODES, CN = system:node:worker-1" && $X_PUB == "${KEY_PUB[r2]}" ]] ||
      fail "renewal $w.$i: subject '$X_SUBJECT' or its key is wrong"
    [[ -z ${LOOP_SERIALS[$X_SERIAL]:-} ]] || fail "renewal $w.$i: serial $X_SERIAL twice"
    LOOP_SERIALS[$X_SERIAL]=1
    ok_count=$((ok_count + 1))
  else
    # No connection (7), or one closed by the stopping server (35, 52, 55, 56).
    [[ $rc == 7 || $rc == 35 || $rc == 52 || $rc == 55 || $rc == 56 ]] ||
      fail "renewal $w.$i: curl exit $rc: $(cat "loop/$w.$i.err")"
    cut=$((cut + 1))
  fi
done < <(cat loop/*.log)
((ok_count >= 16)) || fail "only $ok_count renewals got through before the stop"
# Every certificate handed out is in the database and audited; the database and the audit
# log agree on every certificate (a renewal signed but cut off would be in both).
listed=$(hwca cert list --ca root | awk 'NR > 1 {print $1}' | sort)
audited=$(jq -r 'select(.event == "cert.issued" or .event == "ca.created") | .data.serial' "$AUDIT" | sort)
[[ $listed == "$audited" ]] ||
  fail "database and audit log differ: $(diff <(echo "$listed") <(echo "$audited") | tr '\n' ' ')"
for s in "${!LOOP_SERIALS[@]}" "${ISSUED_SERIALS[@]}"; do
  grep -qxF "$s" <<<"$listed" || fail "certificate $s (a reply of 200) is not in the database"
done
unclaimed=$(($(wc -l <<<"$listed") - 2 - ${#ISSUED_SERIALS[@]} - ${#LOOP_SERIALS[@]}))
out=$(hwca audit verify)
assert_contains "$out" "the hash chain is intact" "audit verify after the stop"

# A second start reuses the TLS key in the token (not "made now") and serves again.
start_server --read-timeout 2 --workers 2
[[ $SERVE_LINE != *"(made now)"* ]] || fail "the second start made a new TLS key: $SERVE_LINE"
est /healthz
[[ $CODE == 200 ]] || fail "healthz after a restart: $CODE"

# The last two checks are gathered in LATE and reported together at the end.
LATE=()

# --- 12. a refused enrollment leaves the node's registration alone ---------------------------

# worker-1 registered 10.0.0.5 with its first token. A new token without --ip, spent on a
# request that is refused (and so given back), must not change that: worker-1 still gets a
# serving certificate for 10.0.0.5.
new_token worker-1
csr masters w1 /O=system:masters/CN=system:node:worker-1
post simpleenroll "" masters -u "worker-1:$TOKEN"
refused 403 group "O=system:masters for worker-1"
post simpleenroll kubelet-serving s1 --cert r2.pem --key r2.key
if [[ $CODE == 200 ]]; then
  issued s5 s1 serving worker-1 "DNS:worker-1, IP Address:10.0.0.5"
else
  LATE+=("after a refused enrollment with a token made without --ip, worker-1's serving request for its registered 10.0.0.5 got $CODE: $(body)")
fi

# --- 13. slow clients after the TLS handshake ------------------------------------------------

# --read-timeout is "seconds a client may stay silent, the TLS handshake included": a client
# that completes the handshake and then sends nothing, or half a request, is cut after it
# too, and with --workers 2 two such clients do not hold up a third for longer.
# idle_tls LOG [TEXT]: s_client to the server in the background, sending TEXT and then
# nothing (-quiet ignores the end of its input: it ends when the server closes the
# connection, or after 8 s); its end time (ns) is written to LOG.t.
idle_tls() {
  {
    timeout 8 openssl s_client -quiet -connect "127.0.0.1:$PORT" -CAfile "$ROOT" \
      < <(printf '%b' "${2:-}") >"$1.out" 2>"$1.err" || true
    date +%s%N >"$1.t"
  } &
  BG_PIDS+=("$!")
}
t0=$(date +%s%N)
idle_tls idle1
idle_tls half1 'POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\nMII'
sleep 0.5
est /healthz
t1=$(date +%s%N)
for pid in "${BG_PIDS[@]}"; do wait "$pid" || true; done
BG_PIDS=()
[[ $CODE == 200 ]] || fail "healthz behind two idle TLS clients: $CODE"
idle_ms=$((($(<idle1.t) - t0) / 1000000)) half_ms=$((($(<half1.t) - t0) / 1000000))
healthz_ms=$(((t1 - t0) / 1000000))
((idle_ms < 5000)) ||
  LATE+=("a client silent after the TLS handshake was held $idle_ms ms (--read-timeout 2)")
((half_ms < 5000)) ||
  LATE+=("a client that sent half a request was held $half_ms ms (--read-timeout 2); it got: $(tr -d '\r' <half1.out | head -n 1)")
((healthz_ms < 5000)) ||
  LATE+=("with --workers 2, healthz waited $healthz_ms ms behind two silent TLS clients (--read-timeout 2)")
kill -TERM "$SERVE_PID"
rc=0
wait "$SERVE_PID" || rc=$?
SERVE_PID=""
((rc == 0)) || fail "the restarted server exited $rc"
if ((${#LATE[@]} > 0)); then
  for msg in "${LATE[@]}"; do echo "FAIL: $msg" | cat -v >&2; done
  fail "${#LATE[@]} of the last checks failed (above)"
fi

echo "ok: EST with curl and openssl: $client client and $serving serving enrollments," \
  "$total refusals audited; SIGTERM after ${stop_ms} ms: $ok_count renewals handed out," \
  "$cut cut off, $unclaimed signed but not handed out; $((SECONDS - T_START)) s"
