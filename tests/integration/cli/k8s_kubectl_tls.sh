#!/usr/bin/env bash
# kubectl against the generated PKI: `hwca k8s certs` and `hwca k8s kubeconfig` write
# kubeconfigs; a TLS endpoint (openssl s_server) presents the generated apiserver
# certificate and requires a client certificate that chains to the cluster CA (pki/ca.crt),
# as the apiserver's --client-ca-file does. kubectl must, through each generated kubeconfig,
# trust that server certificate by the kubeconfig's CA and name, present the client
# certificate, and print exactly the document served as /version; the endpoint's log must
# show the client certificate's subject (the identity an apiserver would see). Then
# kubectl must fail, for the TLS or certificate reason, with a client certificate of
# another CA (even one named like the cluster CA), the front-proxy client certificate (the
# right cluster, the wrong CA), the apiserver's own certificate used as a client one (the
# right CA, no clientAuth), no client certificate at all, a kubeconfig that trusts another
# CA, and a server name the apiserver certificate does not hold (localhost).
#
# /usr/bin/kubectl may be the Google Cloud SDK's version dispatcher: before running the
# command it asks the server for /version?timeout=5s with the kubeconfig's credentials and
# runs the kubectl release matching the answer (its own built-in client for 1.32). The
# served document says v1.32.4, so the client that runs is the dispatcher's own; a plain
# kubectl never asks that question, and the extra name costs nothing.
# lib.sh changes to $WORK: keep this folder's absolute path to source k8s_lib.sh.
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=k8s_lib.sh
source "$here/k8s_lib.sh"
need kubectl env timeout
# Under bash -x the trace goes to the script's stderr, never into a stderr a check captures.
exec {xtrace_fd}>&2
BASH_XTRACEFD=$xtrace_fd

# kubectl keeps its caches under $HOME/.kube: give it one of its own, and no KUBECONFIG
# from the environment (every call names its kubeconfig).
mkdir -m 700 "$WORK/kubehome"
unset KUBECONFIG
# kc ARGS...: kubectl, bounded: each request by --request-timeout, the whole call by
# timeout(1) (exit 124 then, which no check accepts); no standard input, so that a
# kubeconfig without credentials cannot make it wait for a user name.
kc() { HOME=$WORK/kubehome timeout 30 kubectl --request-timeout=10s "$@" </dev/null; }
kc version --client >/dev/null || fail "kubectl version --client fails"

k8s_make_cas ec-p256
K8S_PORT=$(free_port)
server=https://127.0.0.1:$K8S_PORT
k8s_cluster_yaml cluster.yaml cp:control-plane:127.0.0.1 w1:worker:127.0.0.2
hwca_pin k8s certs --config cluster.yaml --out out >/dev/null
pki=$WORK/out/cp/pki
for f in "$pki"/{ca.crt,apiserver.crt,apiserver.key,front-proxy-client.crt,front-proxy-client.key} \
  out/cp/{admin,super-admin,controller-manager,scheduler,kubelet}.conf out/w1/kubelet.conf; do
  [[ -s $f ]] || fail "hwca k8s certs did not write $f"
done
hwca_pin k8s kubeconfig --ca k8s-ca --user alice --group system:masters --server "$server" \
  --out alice.conf >/dev/null

# The endpoint: s_server -WWW answers "GET /NAME" with the file NAME of its working folder,
# the query string included: kubectl asks for /version?timeout=10s (its --request-timeout),
# the dispatcher for /version?timeout=5s; both names lead to the one document.
# -Verify 1 -verify_return_error: a client certificate is required, and one that does not
# verify against ca.crt (with the TLS client purpose, so clientAuth) ends the handshake.
mkdir www
cat >www/version <<'EOF'
{
  "major": "1",
  "minor": "32",
  "gitVersion": "v1.32.4",
  "gitCommit": "59526cd4867447956156ae3a602fcbac5b25a59e",
  "gitTreeState": "clean",
  "buildDate": "2025-04-22T16:02:27Z",
  "goVersion": "go1.23.6",
  "compiler": "gc",
  "platform": "linux/amd64"
}
EOF
ln -s version 'www/version?timeout=10s'
ln -s version 'www/version?timeout=5s'
SRV_LOG=$WORK/s_server.log
k8s_spawn "$SRV_LOG" env -C "$WORK/www" openssl s_server -accept "127.0.0.1:$K8S_PORT" \
  -cert "$pki/apiserver.crt" -key "$pki/apiserver.key" -CAfile "$pki/ca.crt" \
  -Verify 1 -verify_return_error -WWW

# log_lines: the lines of the endpoint's log so far; log_since LINE: the log from line LINE on.
log_lines() { wc -l <"$SRV_LOG"; }
log_since() { tail -n "+$1" "$SRV_LOG"; }
# server_logged LINE TEXT: TEXT appears in the endpoint's log after line LINE (given a few
# seconds: s_server may write its log after the client has gone).
server_logged() {
  local i
  for ((i = 0; i < 50; i++)); do
    log_since "$1" | grep -F -- "$2" >/dev/null && return 0  # not -q: no SIGPIPE for tail
    sleep 0.1
  done
  fail "the endpoint did not log '$2'; its log since: $(log_since "$1")"
}

# s_server prints ACCEPT once it listens (wait_port would knock with a connection that
# never handshakes, and s_server would log an error for it).
server_logged 1 ACCEPT

# served CONF SUBJECT [kubectl options...]: with CONF, kubectl prints exactly the /version
# document and nothing on stderr, and the endpoint served it to client certificate SUBJECT
# (as openssl prints a name).
served() {
  local conf=$1 subject=$2 from rc=0
  shift 2
  from=$(($(log_lines) + 1))
  kc --kubeconfig "$conf" "$@" get --raw /version >got.json 2>got.err || rc=$?
  cat got.err >>"$STDERR_LOG"
  [[ $rc == 0 ]] || fail "kubectl with $conf exited $rc: $(cat got.err)"
  cmp -s got.json www/version || fail "kubectl with $conf printed another document: $(cat got.json)"
  [[ ! -s got.err ]] || fail "kubectl with $conf wrote to stderr: $(cat got.err)"
  server_logged "$from" "FILE:version?timeout=10s"
  server_logged "$from" "depth=0 $subject"
}

# refused CONF KUBECTL-TEXT SERVER-TEXT: with CONF, kubectl exits 1 printing nothing on
# stdout, its stderr holds KUBECTL-TEXT (the TLS or certificate cause), the endpoint's log
# holds SERVER-TEXT and it served no file.
refused() {
  local conf=$1 text=$2 server_text=$3 from
  from=$(($(log_lines) + 1))
  expect_fail 1 "$text" kc --kubeconfig "$conf" get --raw /version
  [[ ! -s $WORK/.fail.out ]] || fail "kubectl with $conf printed: $(cat "$WORK/.fail.out")"
  server_logged "$from" "$server_text"
  ! log_since "$from" | grep '^FILE:' >/dev/null || fail "the endpoint served a file to $conf"
}

# The kubeconfigs `hwca k8s certs` writes with the endpoint's URL, and alice's.
served out/cp/admin.conf "O = kubeadm:cluster-admins, CN = kubernetes-admin"
served out/cp/super-admin.conf "O = system:masters, CN = kubernetes-super-admin"
served out/w1/kubelet.conf "O = system:nodes, CN = system:node:w1"
served out/cp/kubelet.conf "O = system:nodes, CN = system:node:cp"
served alice.conf "O = system:masters, CN = alice"
# controller-manager.conf and scheduler.conf name the local endpoint (the advertise address,
# port 6443, as kubeadm's); their certificates are tried against this endpoint's port.
for conf in controller-manager scheduler; do
  grep -qx "      server: https://127.0.0.1:6443" "out/cp/$conf.conf" ||
    fail "$conf.conf does not name https://127.0.0.1:6443: $(grep server: "out/cp/$conf.conf")"
  served "out/cp/$conf.conf" "CN = system:kube-$conf" --server "$server"
done

# set_cluster CONF: CONF's cluster "kubernetes" is the endpoint, trusted by pki/ca.crt.
set_cluster() {
  kc config --kubeconfig "$1" set-cluster kubernetes --server "$server" \
    --certificate-authority "$pki/ca.crt" --embed-certs >/dev/null
}
# conf_with CONF USER [set-credentials options...]: a kubeconfig whose current context is
# USER on cluster "kubernetes".
conf_with() {
  local conf=$1 user=$2
  shift 2
  rm -f "$conf"
  set_cluster "$conf"
  kc config --kubeconfig "$conf" set-credentials "$user" "$@" >/dev/null
  kc config --kubeconfig "$conf" set-context "$user@kubernetes" --cluster kubernetes \
    --user "$user" >/dev/null
  kc config --kubeconfig "$conf" use-context "$user@kubernetes" >/dev/null
}

# A user of another CA, which carries the cluster CA's very name (CN=kubernetes): only its
# key tells it apart. As hwca writes the kubeconfig, it trusts that CA, so kubectl refuses
# the endpoint's certificate before sending its own.
hwca_pin ca init --name other-ca --key "$(key_uri other-ca)" --generate ec-p256 \
  --subject /CN=kubernetes --san DNS:kubernetes >/dev/null
hwca_pin k8s kubeconfig --ca other-ca --user alice --group system:masters --server "$server" \
  --out other.conf >/dev/null
refused other.conf "x509: certificate signed by unknown authority" "alert bad certificate"
# With the cluster's CA put in, kubectl accepts the endpoint and the endpoint refuses the
# certificate: its issuer's name is ca.crt's, but its authority key identifier is not
# ca.crt's key, so openssl finds no issuer for it.
cp other.conf other-client.conf
set_cluster other-client.conf
refused other-client.conf "remote error: tls: unknown certificate authority" \
  "unable to get local issuer certificate"

# The front-proxy client certificate (signed by front-proxy-ca, the CA of
# --requestheader-client-ca-file): refused, its issuer is not the client CA.
conf_with front-proxy.conf front-proxy-client --embed-certs \
  --client-certificate "$pki/front-proxy-client.crt" --client-key "$pki/front-proxy-client.key"
refused front-proxy.conf "remote error: tls: unknown certificate authority" \
  "unable to get local issuer certificate"

# The apiserver's own certificate as a client one: the right CA, but serverAuth only.
conf_with apiserver-as-client.conf kube-apiserver --embed-certs \
  --client-certificate "$pki/apiserver.crt" --client-key "$pki/apiserver.key"
refused apiserver-as-client.conf "remote error: tls: unsupported certificate" \
  "unsuitable certificate purpose"

# No client certificate at all (a bearer token instead): the endpoint requires one.
conf_with token.conf token-user --token not-a-certificate
refused token.conf "remote error: tls: certificate required" "peer did not return a certificate"

# The right credentials, but the server named localhost: the apiserver certificate holds
# IP:127.0.0.1 and no DNS:localhost, so kubectl refuses it by name.
sans=$(openssl x509 -in "$pki/apiserver.crt" -noout -ext subjectAltName)
[[ $sans == *"IP Address:127.0.0.1"* && $sans != *DNS:localhost* ]] ||
  fail "the apiserver certificate's SANs: $sans"
cp out/cp/admin.conf localhost.conf
kc config --kubeconfig localhost.conf set-cluster kubernetes \
  --server "https://localhost:$K8S_PORT" >/dev/null
refused localhost.conf ", not localhost" "alert bad certificate"
assert_contains "$LAST_ERR" "tls: failed to verify certificate: x509: certificate is valid for cp, " \
  "kubectl's refusal of https://localhost"

# The refusals were the endpoint's and kubectl's judgement, not a dead endpoint.
served out/cp/admin.conf "O = kubeadm:cluster-admins, CN = kubernetes-admin"

echo "ok: kubectl reaches a TLS endpoint with the generated apiserver certificate through every generated kubeconfig, and is refused for the wrong CA, usage, certificate or name"
