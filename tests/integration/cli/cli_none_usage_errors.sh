#!/usr/bin/env bash
# Usage errors found while parsing the command line follow the same rule as every other
# error (docs/cli.md): exit 2 and exactly one line on stderr starting "hwca: " that names
# the problem. Every case runs (in a subshell) and the failures are counted.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

failures=0
check() { (expect_fail "$@") || failures=$((failures + 1)); }

check 2 "a command is needed (one of: token, key, ca, audit, sign, cert, revoke, crl, k8s, bootstrap, node, ek-roots, db, profile, serve)" hwca
check 2 "frob" hwca frob
check 2 "a command is needed (one of: generate, list, show)" hwca key
check 2 "frob" hwca key frob
check 2 "--key" hwca key generate
check 2 "--key" hwca key show
check 2 "--token" hwca key list
check 2 "--frob" hwca key show --key "$(key_uri k)" --frob
check 2 "--frob" hwca --frob token list
check 2 "bad PIN source" hwca --pin-source bogus token list
check 2 "--timeout" hwca --timeout 0 token list
# A mistyped option is named as such, not as the required option it kept from being seen.
check 2 "sign: unknown option --cax" hwca sign --cax k8s-ca --profile server --csr x.csr
check 2 "hwca-node: enroll: unknown option --nodename" "$HWCA_NODE_BIN" enroll --nodename w1
# A repeatable option takes one value an occurrence: after `--node cp1` the next word is
# the command's argument (here an unknown certificate name), not a second node.
cat >"$WORK/cluster.yaml" <<'YAML'
apiVersion: hwca/v1
kind: Cluster
controlPlaneEndpoint: 10.0.0.10:6443
cas: {kubernetes: k8s-ca, etcd: etcd-ca, frontProxy: front-proxy-ca}
nodes:
- {name: cp1, role: control-plane, addresses: [10.0.0.11]}
YAML
check 2 "unknown certificate 'apiserverr'" hwca k8s renew --config "$WORK/cluster.yaml" \
  --out "$WORK/out" --node cp1 apiserverr
((failures == 0)) || fail "$failures of 14 usage errors are not one 'hwca: ' line"
echo "ok: usage errors are one 'hwca: ' line and exit 2"
