#!/usr/bin/env bash
# A real three-member etcd cluster (the Debian etcd 3.4) runs on the certificates `hwca k8s
# certs` wrote, with client-certificate authentication on the client and the peer ports:
# the members find each other with etcd/peer (so both serverAuth and clientAuth work), serve
# etcd/server under their node addresses (IP SANs, checked by etcdctl; etcd/peer's by
# openssl), and take apiserver-etcd-client and etcd/healthcheck-client. A key written
# through one member is read through the two others. Refused, each with the reason etcd logs
# for it (etcdctl says no more than "context deadline exceeded"): no client certificate; a
# look-alike client certificate (same subject, issuer name and extensions) from another CA
# in the same token; the kubernetes CA's apiserver-kubelet-client; the first two on the peer
# port too; and, on etcdctl's side, the servers when it trusts the kubernetes CA instead.
here=$(cd "$(dirname "$0")" && pwd)  # lib.sh changes to $WORK
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"
need etcd etcdctl timeout

# etcd and etcdctl read ETCD_* / ETCDCTL_* variables as flags: none from outside counts.
for var in $(compgen -e); do
  if [[ $var == ETCD_* || $var == ETCDCTL_* ]]; then unset "$var"; fi
done
export ETCDCTL_API=3

# --- the certificates --------------------------------------------------------------------

NODES=(cp1 cp2 cp3)
declare -A ADDR=([cp1]=127.0.0.11 [cp2]=127.0.0.12 [cp3]=127.0.0.13)  # all on loopback
k8s_make_cas ec-p256
k8s_cluster_yaml "$WORK/cluster.yaml" cp1:control-plane:127.0.0.11 \
  cp2:control-plane:127.0.0.12 cp3:control-plane:127.0.0.13 w1:worker:127.0.0.21
hwca_pin k8s certs --config "$WORK/cluster.yaml" --out "$WORK/pki" >/dev/null

# pki NODE: the node's /etc/kubernetes/pki as hwca wrote it.
pki() { printf '%s' "$WORK/pki/$1/pki"; }
for n in "${NODES[@]}"; do
  for f in etcd/ca.crt etcd/server.crt etcd/server.key etcd/peer.crt etcd/peer.key \
    etcd/healthcheck-client.crt etcd/healthcheck-client.key apiserver-etcd-client.crt \
    apiserver-etcd-client.key apiserver-kubelet-client.crt apiserver-kubelet-client.key ca.crt; do
    [[ -s $(pki "$n")/$f ]] || fail "hwca k8s certs wrote no $n/pki/$f"
  done
done
# A worker runs no etcd member and gets no etcd certificate.
[[ ! -e $(pki w1)/etcd && ! -e $(pki w1)/apiserver-etcd-client.crt ]] ||
  fail "the worker w1 got etcd certificates: $(ls -R "$(pki w1)")"

# The look-alike: a second root CA with the etcd CA's very name, its key in the same token,
# signs a client certificate for kube-apiserver-etcd-client (key and CSR by plain openssl).
# It differs from the real apiserver-etcd-client in key, serial, dates and signature only.
hwca_pin ca init --name other-ca --key "$(key_uri other-ca)" --generate ec-p256 \
  --subject /CN=etcd-ca --san DNS:etcd-ca >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/other.key" \
  -subj /CN=kube-apiserver-etcd-client -out "$WORK/other.csr" 2>/dev/null
hwca_pin sign --ca other-ca --profile client --csr "$WORK/other.csr" --out "$WORK/other.crt" \
  >/dev/null
# looks CERT: what a certificate says about itself, apart from keys, serial and dates.
looks() {
  openssl x509 -in "$1" -noout -subject -issuer -ext basicConstraints,keyUsage,extendedKeyUsage,subjectAltName
}
[[ $(looks "$WORK/other.crt") == "$(looks "$(pki cp1)/apiserver-etcd-client.crt")" ]] ||
  fail "the look-alike differs from apiserver-etcd-client in more than its CA:
$(looks "$WORK/other.crt")
--- apiserver-etcd-client:
$(looks "$(pki cp1)/apiserver-etcd-client.crt")"
openssl verify -CAfile "$HWCA_HOME/cas/other-ca/cert.pem" "$WORK/other.crt" >/dev/null ||
  fail "the look-alike does not verify under its own CA"
expect_ossl_fail "unable to get local issuer certificate" \
  openssl verify -CAfile "$(pki cp1)/etcd/ca.crt" "$WORK/other.crt"

# --- the cluster -------------------------------------------------------------------------

# Every member listens on its own node address, all on the same two ports (so what answers
# on 127.0.0.12 can only be cp2); the ports must be free on each of the three addresses.
port_free() {
  local a
  for a in "${ADDR[@]}"; do
    if (exec 3<>"/dev/tcp/$a/$1") 2>/dev/null; then return 1; fi
  done
}
pick_port() {  # pick_port [TAKEN]
  local port
  for _ in $(seq 20); do
    port=$(free_port)
    [[ $port != "${1:-}" ]] && port_free "$port" && { echo "$port"; return 0; }
  done
  fail "no port free on ${ADDR[*]}"
}
CPORT=$(pick_port)
PPORT=$(pick_port "$CPORT")
url() { printf 'https://%s:%s' "${ADDR[$1]}" "$2"; }  # url NODE PORT

# Each member: its node's etcd/server on the client port, etcd/peer on the peer port, the
# etcd CA for both. (etcd 3.4 asks for client certificates whenever a trusted CA file is
# given; the --client-cert-auth flags say so explicitly.)
initial=""
for n in "${NODES[@]}"; do initial+="${initial:+,}$n=$(url "$n" "$PPORT")"; done
declare -A PID=()
for n in "${NODES[@]}"; do
  e=$(pki "$n")/etcd
  k8s_spawn "$WORK/etcd-$n.log" etcd --name "$n" --data-dir "$WORK/etcd-$n" \
    --logger zap --log-outputs stderr \
    --listen-client-urls "$(url "$n" "$CPORT")" --advertise-client-urls "$(url "$n" "$CPORT")" \
    --listen-peer-urls "$(url "$n" "$PPORT")" --initial-advertise-peer-urls "$(url "$n" "$PPORT")" \
    --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token hwca-test \
    --cert-file "$e/server.crt" --key-file "$e/server.key" \
    --trusted-ca-file "$e/ca.crt" --client-cert-auth \
    --peer-cert-file "$e/peer.crt" --peer-key-file "$e/peer.key" \
    --peer-trusted-ca-file "$e/ca.crt" --peer-client-cert-auth
  PID[$n]=${K8S_PIDS[-1]}
done

# etcd_logs: the last lines of every member's log, for failure messages.
etcd_logs() {
  local n
  for n in "${NODES[@]}"; do
    printf '\n--- last lines of etcd %s (%s):\n' "$n" "$WORK/etcd-$n.log"
    tail -n 6 "$WORK/etcd-$n.log" | cut -c1-400
  done
}

# ctl ENDPOINTS CERT ARGS...: etcdctl trusting $CTL_CA (default the etcd CA), with
# CERT.crt/CERT.key as client certificate (CERT "-": none), bounded by $CTL_DIAL/$CTL_CMD.
ETCD_CA=$(pki cp1)/etcd/ca.crt
ctl() {
  local eps=$1 cert=$2
  shift 2
  local tls=(--cacert "${CTL_CA:-$ETCD_CA}")
  [[ $cert == - ]] || tls+=(--cert "$cert.crt" --key "$cert.key")
  etcdctl --endpoints "$eps" "${tls[@]}" --dial-timeout "${CTL_DIAL:-2s}" \
    --command-timeout "${CTL_CMD:-4s}" "$@"
}
ALL=$(url cp1 "$CPORT"),$(url cp2 "$CPORT"),$(url cp3 "$CPORT")

# Wait (at most 30 s) until every member commits a proposal; stop early if one died.
deadline=$((SECONDS + 30))
until out=$(CTL_DIAL=1s CTL_CMD=2s ctl "$ALL" "$(pki cp1)/apiserver-etcd-client" endpoint health 2>&1); do
  for n in "${NODES[@]}"; do
    kill -0 "${PID[$n]}" 2>/dev/null || fail "etcd $n exited while the cluster formed$(etcd_logs)"
  done
  ((SECONDS < deadline)) ||
    fail "the etcd cluster is not healthy after 30 s: $(grep -v '^{"level"' <<<"$out")$(etcd_logs)"
  sleep 0.3
done

# --- what the cluster accepts ------------------------------------------------------------

# Exactly the three members, started (so each took the others' peer certificates), with
# the URLs they were given.
out=$(ctl "$ALL" "$(pki cp1)/apiserver-etcd-client" member list -w simple)
got=$(cut -d' ' -f2- <<<"$out" | sort)  # without the member IDs
want=$(for n in "${NODES[@]}"; do
  echo "started, $n, $(url "$n" "$PPORT"), $(url "$n" "$CPORT"), false"
done)
[[ $got == "$want" ]] || fail "member list:
$out
expected (IDs aside):
$want"

# A key written through cp1 with cp1's apiserver-etcd-client is read through cp2 and cp3,
# each with its own node's certificate; every connection is to an IP endpoint, so etcdctl
# checks the member's etcd/server against the IP SAN of its address.
value="written through cp1 at $(date +%s.%N)"
out=$(ctl "$(url cp1 "$CPORT")" "$(pki cp1)/apiserver-etcd-client" put /hwca-test/key "$value")
[[ $out == OK ]] || fail "etcdctl put through cp1: $out"
for n in cp2 cp3; do
  out=$(ctl "$(url "$n" "$CPORT")" "$(pki "$n")/apiserver-etcd-client" get /hwca-test/key \
    --print-value-only)
  [[ $out == "$value" ]] || fail "etcdctl get through $n: '$out', expected '$value'"
done

# The health check identity (kubeadm's etcd liveness probe) sees all three healthy.
out=$(ctl "$ALL" "$(pki cp3)/etcd/healthcheck-client" endpoint health 2>&1) ||
  fail "endpoint health with etcd/healthcheck-client: $out"
for n in "${NODES[@]}"; do
  assert_contains "$out" "$(url "$n" "$CPORT") is healthy: successfully committed proposal" \
    "endpoint health with etcd/healthcheck-client"
done

# peer_members IP [openssl s_client options...]: GET /members from cp2's peer port, as a
# peer asks for it, with stock openssl, which checks cp2's etcd/peer against the etcd CA
# and the IP; prints the answer and fails unless it is 200.
peer_members() {
  local ip=$1 out rc=0
  shift
  out=$(printf 'GET /members HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -quiet \
    -connect "${ADDR[cp2]}:$PPORT" -CAfile "$ETCD_CA" -verify_return_error -verify_ip "$ip" \
    "$@" 2>&1) || rc=$?
  printf '%s\n' "$out"
  [[ $rc == 0 && $out == *"HTTP/1.0 200 OK"* ]]
}
# cp1's etcd/peer gets the member list from cp2's peer port...
out=$(peer_members "${ADDR[cp2]}" -cert "$(pki cp1)/etcd/peer.crt" -key "$(pki cp1)/etcd/peer.key") ||
  fail "GET /members on cp2's peer port with cp1's etcd/peer: $out"
for n in "${NODES[@]}"; do assert_contains "$out" "\"name\":\"$n\"" "cp2's /members"; done
# ...and cp2's etcd/peer holds cp2's address only: checked for cp3's, it does not verify.
if out=$(peer_members "${ADDR[cp3]}" -cert "$(pki cp1)/etcd/peer.crt" -key "$(pki cp1)/etcd/peer.key"); then
  fail "cp2's etcd/peer verifies for cp3's address ${ADDR[cp3]}: $out"
fi
assert_contains "$out" "IP address mismatch" "cp2's etcd/peer checked for ${ADDR[cp3]}"

# --- what it refuses ---------------------------------------------------------------------

# rejected NODE REASON CMD...: CMD (one connection attempt to NODE, or a few retries)
# fails, and NODE's log gains "rejected connection" lines, every one with REASON (a prefix
# of Go's TLS error): the failure is the handshake, not a member being away. CMD's output
# is left in $out.
rejected() {
  local n=$1 reason=$2 log=$WORK/etcd-$1.log before rc=0
  shift 2
  before=$(wc -l <"$log")
  out=$("$@" 2>&1) || rc=$?
  [[ $rc != 0 ]] || fail "'$*' succeeded, expected a refusal ($reason): $out"
  [[ $out != *"$value"* ]] || fail "'$*' failed, yet printed the value: $out"
  tail -n "+$((before + 1))" "$log" | grep -F '"msg":"rejected connection"' >"$WORK/.rejected" ||
    fail "'$*' failed ($out), but etcd $n logged no rejected connection$(etcd_logs)"
  if grep -vF "\"error\":\"$reason" "$WORK/.rejected" >"$WORK/.other"; then
    fail "'$*': etcd $n rejected the connection for another reason than '$reason':
$(cut -c1-400 "$WORK/.other")"
  fi
}
CTL_DIAL=1s CTL_CMD=2s  # a refusal is only a retry loop until the deadline

# No client certificate at all.
rejected cp1 "tls: client didn't provide a certificate" \
  ctl "$(url cp1 "$CPORT")" - get /hwca-test/key
# The look-alike: right name, right issuer name, right EKU, wrong CA. Go finds the etcd CA
# by name and refuses the signature (the log's JSON escapes the quotes).
LOOKALIKE='tls: failed to verify client certificate: x509: certificate signed by unknown authority (possibly because of \"x509: ECDSA verification failure\" while trying to verify candidate authority certificate \"etcd-ca\")'
rejected cp2 "$LOOKALIKE" ctl "$(url cp2 "$CPORT")" "$WORK/other" get /hwca-test/key
# A valid client certificate of the cluster, but the kubernetes CA's, not etcd's.
rejected cp3 "tls: failed to verify client certificate: x509: certificate signed by unknown authority" \
  ctl "$(url cp3 "$CPORT")" "$(pki cp3)/apiserver-kubelet-client" get /hwca-test/key
# etcdctl checks the server: trusting the kubernetes CA, it refuses cp2's etcd/server and
# hangs up (the "bad certificate" alert is what cp2 logs). So the accepted connections
# above did verify etcd/server against the etcd CA and the IP SAN.
CTL_CA=$(pki cp2)/ca.crt rejected cp2 "remote error: tls: bad certificate" \
  ctl "$(url cp2 "$CPORT")" "$(pki cp2)/apiserver-etcd-client" get /hwca-test/key
# The peer port: no client certificate, and the look-alike (openssl hears the alert).
rejected cp2 "tls: client didn't provide a certificate" peer_members "${ADDR[cp2]}"
assert_contains "$out" "alert bad certificate" "GET /members without a certificate"
rejected cp2 "$LOOKALIKE" peer_members "${ADDR[cp2]}" -cert "$WORK/other.crt" -key "$WORK/other.key"
assert_contains "$out" "alert bad certificate" "GET /members with the look-alike"

# After the refusals every member still serves the real certificate.
CTL_DIAL=2s CTL_CMD=4s
for n in "${NODES[@]}"; do
  out=$(ctl "$(url "$n" "$CPORT")" "$(pki "$n")/apiserver-etcd-client" get /hwca-test/key \
    --print-value-only)
  [[ $out == "$value" ]] || fail "etcdctl get through $n after the refusals: '$out'"
done

# --- stop --------------------------------------------------------------------------------

# One member at a time: a leader that is sent TERM together with its followers waits
# etcd's request timeout (7 s) to hand its leadership to one of them; k8s_spawn's cleanup
# would kill it. Each must exit within 10 s, by the TERM (143) or cleanly.
for n in "${NODES[@]}"; do
  kill -TERM "${PID[$n]}"
  for _ in $(seq 100); do kill -0 "${PID[$n]}" 2>/dev/null || break; sleep 0.1; done
  ! kill -0 "${PID[$n]}" 2>/dev/null || fail "etcd $n still runs 10 s after TERM$(etcd_logs)"
  rc=0
  wait "${PID[$n]}" || rc=$?
  [[ $rc == 0 || $rc == 143 ]] || fail "etcd $n exited with $rc after TERM$(etcd_logs)"
done

echo "ok: a 3-member etcd cluster on hwca's certificates, with client and peer certificate auth"
