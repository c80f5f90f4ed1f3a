# Shared setup for the Kubernetes PKI tests; source it after lib.sh.
#   k8s_make_cas [KEYTYPE [URI_FN [HWCA_FN]]]
#                                 CAs k8s-ca, etcd-ca and front-proxy-ca in $HWCA_HOME, their
#                                 keys generated (default ec-p256) at `URI_FN NAME` (default
#                                 key_uri: in the token) by HWCA_FN (default hwca_pin), with
#                                 kubeadm's subjects
#   k8s_cluster_yaml FILE NODES... a cluster description naming those CAs; each NODE is
#                                 NAME:ROLE:ADDRESS (ROLE control-plane or worker); the
#                                 endpoint is the first node's address, port $K8S_PORT
#                                 (default 6443); $K8S_LEAF (default ec-p256) the leaf key type
#   free_port                     a TCP port on loopback that nothing listens on
#   wait_port PORT [HOST] [SECS]  wait until something listens on HOST:PORT
#   k8s_spawn LOG CMD...          run CMD in the background (output to LOG); it is stopped
#                                 (TERM, then KILL) when the script exits, before lib.sh's
#                                 cleanup removes $WORK
export HWCA_HOME=${HWCA_HOME:-$WORK/home}

K8S_PIDS=()
k8s_spawn() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  K8S_PIDS+=("$!")
}
_k8s_exit() {
  local rc=$? pid alive
  set +e  # under -e, `(exit $rc)` below would end the handler before the cleanup
  for pid in "${K8S_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  # One deadline for all of them (5 s), then KILL what is left; reaped quietly (bash would
  # report each killed job on stderr).
  for _ in $(seq 50); do
    alive=0
    for pid in "${K8S_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${K8S_PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null
    { wait "$pid"; } 2>/dev/null
  done
  (exit "$rc")
  _cleanup
}
trap _k8s_exit EXIT

k8s_make_cas() {
  local type=${1:-ec-p256} uri_of=${2:-key_uri} run=${3:-hwca_pin} spec name cn
  for spec in k8s-ca:kubernetes etcd-ca:etcd-ca front-proxy-ca:front-proxy-ca; do
    name=${spec%%:*}
    cn=${spec#*:}
    "$run" ca init --name "$name" --key "$("$uri_of" "$name")" --generate "$type" \
      --subject "/CN=$cn" --san "DNS:$cn" >/dev/null
  done
}

k8s_cluster_yaml() {
  local file=$1 node name role addr first=""
  shift
  {
    echo "apiVersion: hwca/v1"
    echo "kind: Cluster"
    echo "name: kubernetes"
    for node in "$@"; do
      addr=${node##*:}
      [[ -n $first ]] || first=$addr
    done
    echo "controlPlaneEndpoint: $first:${K8S_PORT:-6443}"
    echo "cas: {kubernetes: k8s-ca, etcd: etcd-ca, frontProxy: front-proxy-ca}"
    echo "leafKeyType: ${K8S_LEAF:-ec-p256}"
    echo "nodes:"
    for node in "$@"; do
      IFS=: read -r name role addr <<<"$node"
      echo "- {name: $name, role: $role, addresses: [$addr]}"
    done
  } >"$file"
}

free_port() {
  local port
  for _ in $(seq 50); do
    # Below the kernel's ephemeral range (32768-60999), where outgoing connections and
    # their TIME-WAIT leftovers would collide with a listener.
    port=$((10000 + RANDOM % 22000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  fail "no free port found"
}

wait_port() {
  local port=$1 host=${2:-127.0.0.1} secs=${3:-20} i
  for ((i = 0; i < secs * 10; i++)); do
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "nothing listens on $host:$port after ${secs}s"
}
