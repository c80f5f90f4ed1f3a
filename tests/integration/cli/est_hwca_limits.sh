#!/usr/bin/env bash
# `hwca serve`'s connection layer from outside, on the real process: a second server on the
# same address fails (exit 7, one line) instead of sharing the port (SO_REUSEPORT); TLS 1.2
# offers ECDHE with AEAD ciphers only, for an EC key (the default, in the CA's token) and an
# RSA one (--tls-cert/--tls-key), and TLS 1.3 still works (openssl s_client); a 300 MB
# chunked body to simpleenroll is cut off with 413 at --max-body, and the server's peak RSS
# (VmHWM) barely moves (before: 88 -> 580 MB, then 401).
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=est_lib.sh
source "$here/est_lib.sh"
need curl sqlite3 timeout

export HWCA_HOME=$WORK/home
ROOT=$HWCA_HOME/cas/root/cert.pem

_limits_exit() {
  local rc=$?
  set +e
  est_serve_stop
  est_serve_logs
  (exit "$rc")
  _cleanup
}
trap _limits_exit EXIT

hwca_pin ca init --name root --key "$(key_uri root)" --generate ec-p256 \
  --subject "/CN=hwca est limits root/O=hwca" >/dev/null
est_serve_start --read-timeout 2
BASE=https://127.0.0.1:$PORT

healthz() {
  CODE=$(curl -sS --max-time 10 --cacert "$ROOT" -o /dev/null -w '%{http_code}' "$BASE/healthz")
}

# --- 1. a second server on the same address ------------------------------------------------

# It must not start (timeout: a server that did start would run until killed), neither for
# the same home nor for another home's CA of the same name; and it issues itself nothing.
expect_fail 7 "cannot listen on 127.0.0.1:$PORT: Address already in use" \
  timeout 20 "$HWCA_BIN" --pin-source "file:$PIN_FILE" serve --ca root --listen "127.0.0.1:$PORT"
OTHER_HOME=$WORK/other-home
HWCA_HOME=$OTHER_HOME hwca_pin ca init --name root --key "$(key_uri other-root)" \
  --generate ec-p256 --subject "/CN=hwca est limits other root/O=hwca" >/dev/null
HWCA_HOME=$OTHER_HOME expect_fail 7 "cannot listen on 127.0.0.1:$PORT: Address already in use" \
  timeout 20 "$HWCA_BIN" --pin-source "file:$PIN_FILE" serve --ca root --listen "127.0.0.1:$PORT"
other_certs=$(sqlite3 "$OTHER_HOME/issuance.db" "SELECT count(*) FROM certs WHERE profile='server'")
[[ $other_certs == 0 ]] || fail "a server that could not listen issued $other_certs TLS certificate(s)"
healthz
[[ $CODE == 200 ]] || fail "the first server after the second one's attempt: $CODE"

# --- 2. TLS 1.2 cipher suites ----------------------------------------------------------------

# tls_ok PORT CAFILE VERSION CIPHER: s_client completes a handshake with exactly CIPHER.
tls_ok() {
  local out
  out=$(timeout 10 openssl s_client -connect "127.0.0.1:$1" -CAfile "$2" "$3" -cipher "$4" \
    -verify_return_error </dev/null 2>&1) || fail "s_client $3 -cipher $4 was refused: $out"
  [[ $out == *"Cipher is $4"* ]] || fail "s_client $3 -cipher $4: $(grep -i cipher <<<"$out")"
}
# tls_refused PORT CAFILE CIPHER: a TLS 1.2 handshake offering only CIPHER fails.
tls_refused() {
  local out rc=0
  out=$(timeout 10 openssl s_client -connect "127.0.0.1:$1" -CAfile "$2" -tls1_2 -cipher "$3" \
    </dev/null 2>&1) || rc=$?
  ((rc != 0)) || fail "TLS 1.2 with $3 was accepted: $(grep -i 'cipher is' <<<"$out")"
}
for c in ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA ECDHE-ECDSA-AES128-SHA256 \
  ECDHE-ECDSA-AES256-SHA384; do
  tls_refused "$PORT" "$ROOT" "$c"
done
for c in ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 \
  ECDHE-ECDSA-CHACHA20-POLY1305; do
  tls_ok "$PORT" "$ROOT" -tls1_2 "$c"
done
out=$(timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$ROOT" -tls1_3 \
  -verify_return_error </dev/null 2>&1) || fail "TLS 1.3 was refused: $out"
assert_contains "$out" "TLSv1.3" "s_client -tls1_3"

# --- 3. a 300 MB chunked body ----------------------------------------------------------------

hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$SERVE_PID/status"; }
healthz
before=$(hwm)
rc=0
# -T - uploads stdin, of unknown length: chunked. head ends on SIGPIPE once curl stops.
CODE=$({ head -c 300M /dev/zero || true; } | curl -sS --max-time 60 --cacert "$ROOT" -T - -X POST \
  -H "Content-Type: application/pkcs10" -o "$WORK/flood.body" -w '%{http_code}' \
  "$BASE/.well-known/est/simpleenroll" 2>"$WORK/flood.err") || rc=$?
after=$(hwm)
# curl may see the connection closed while it still sends (55, 56) after the reply.
[[ $rc == 0 || $rc == 55 || $rc == 56 ]] || fail "curl exit $rc: $(cat "$WORK/flood.err")"
[[ $CODE == 413 ]] || fail "a 300 MB chunked body got $CODE, expected 413: $(head -c 200 "$WORK/flood.body")"
grow=$(((after - before) / 1024))
((grow < 32)) || fail "the server's peak RSS grew by $grow MB (${before} -> ${after} kB) under a chunked flood"
metrics=$(curl -sS --max-time 10 --cacert "$ROOT" "$BASE/metrics")
assert_contains "$metrics" 'hwca_est_requests_total{endpoint="simpleenroll",code="413"} 1' "/metrics"
healthz
[[ $CODE == 200 ]] || fail "healthz after the flood: $CODE"
est_serve_stop || true  # its last kill -9 finds nothing to kill

# --- 4. an RSA server key: ECDHE-RSA with AEAD only ------------------------------------------

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/rsa.key" -out "$WORK/rsa.pem" \
  -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" -days 1 2>/dev/null
est_serve_start --tls-cert "$WORK/rsa.pem" --tls-key "$WORK/rsa.key"
for c in ECDHE-RSA-AES128-SHA ECDHE-RSA-AES256-SHA ECDHE-RSA-AES128-SHA256 \
  ECDHE-RSA-AES256-SHA384 AES128-GCM-SHA256 AES256-SHA; do
  tls_refused "$PORT" "$WORK/rsa.pem" "$c"
done
for c in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305; do
  tls_ok "$PORT" "$WORK/rsa.pem" -tls1_2 "$c"
done
est_serve_stop || true

echo "ok: EST limits: second server refused; TLS 1.2 AEAD only (EC and RSA keys);" \
  "300 MB chunked body cut with 413, peak RSS +${grow} MB"
