#!/usr/bin/env bash
# hwca-serve.service as scripts/install.sh installs it, started by systemd (docs/install.md):
# the install for real (prefix /usr/local, the hwca user), a SoftHSM2 token made by the hwca
# user in SoftHSM2's own token folder, a CA in /var/lib/hwca, the PIN in /etc/hwca/pin; then
# `systemctl start hwca-serve` must answer /healthz over TLS, and its first start must have
# made the server's TLS key in the token (SoftHSM2's folder is writable under
# ProtectSystem=strict). Everything it made is removed at the end (the files, the token, the
# user and group, /etc/hwca, /var/lib/hwca, the /etc/default files).
# Registered only where systemd is the service manager (tests/integration/cli/CMakeLists.txt);
# run anywhere else, it says why it cannot run and fails: it never passes without running.
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
: "${HWCA_BUILD_DIR:?HWCA_BUILD_DIR must name the build folder}"
need systemctl curl runuser softhsm2-util pkg-config

state=$(systemctl is-system-running 2>/dev/null) || true
[[ -d /run/systemd/system && ($state == running || $state == degraded) ]] ||
  fail "cannot run here: systemd is not the service manager (PID 1 is '$(cat /proc/1/comm)'," \
    "systemctl is-system-running: '${state:-no answer}'); this test starts hwca-serve.service for real"
for p in /usr/local/bin/hwca /etc/hwca /var/lib/hwca /etc/default/hwca-serve; do
  [[ ! -e $p ]] || fail "$p exists: this test installs hwca for real and removes it afterwards; run it on a machine without hwca"
done
! getent passwd hwca >/dev/null || fail "user hwca exists: run this test on a machine without hwca"
! getent group hwca >/dev/null || fail "group hwca exists: run this test on a machine without hwca"

label=hwca-systemd-test
modulesdir=$(pkg-config --variable=modulesdir libcrypto)
had_node_default=0
[[ ! -e /etc/default/hwca-node ]] || had_node_default=1
sys_cleanup() {
  local rc=$?
  set +e
  if ((rc != 0)); then journalctl -u hwca-serve --no-pager -n 30 >&2 2>/dev/null; fi
  systemctl stop hwca-serve 2>/dev/null
  systemctl reset-failed hwca-serve 2>/dev/null
  # The token: the folders of the hwca user, who did not exist before the test.
  getent passwd hwca >/dev/null && find /var/lib/softhsm/tokens -mindepth 1 -maxdepth 1 -user hwca -exec rm -rf {} +
  rm -f /usr/local/bin/hwca /usr/local/bin/hwca-node "$modulesdir/hwca.so" \
    /usr/local/lib/systemd/system/hwca-serve.service \
    /usr/local/lib/systemd/system/hwca-node-renew.service \
    /usr/local/lib/systemd/system/hwca-node-renew.timer /etc/default/hwca-serve
  ((had_node_default)) || rm -f /etc/default/hwca-node
  rm -rf /usr/local/share/doc/hwca /etc/hwca /var/lib/hwca
  userdel hwca 2>/dev/null
  getent group hwca >/dev/null && groupdel hwca
  systemctl daemon-reload
  (exit "$rc")
  _cleanup
}
trap sys_cleanup EXIT

out=$(bash "$repo/scripts/install.sh" --no-build 2>&1) || fail "install.sh: $out"
assert_contains "$out" "systemctl daemon-reload done" "install.sh on a systemd machine"
id -nG hwca | grep -qw softhsm || fail "hwca is not in group softhsm: $(id -nG hwca)"
(umask 077 && printf '%s\n' "$PIN" >/etc/hwca/pin)

# The token and the CA, made by the hwca user (a SoftHSM2 token's folder is its maker's, 0700).
# The PINs go through the environment, never argv.
as_hwca() {
  (cd / && HWCA_SETUP_PIN=$PIN HWCA_SETUP_SO_PIN=$SO_PIN runuser -u hwca -- env \
    SOFTHSM2_CONF=/etc/softhsm/softhsm2.conf HWCA_PKCS11_MODULE=$SOFTHSM_MODULE \
    HWCA_HOME=/var/lib/hwca /usr/local/bin/hwca --pin-source env:HWCA_SETUP_PIN "$@")
}
as_hwca token init --label "$label" --so-pin-source env:HWCA_SETUP_SO_PIN >/dev/null ||
  fail "hwca token init as user hwca failed"
as_hwca ca init --name kubelet-ca --key "pkcs11:token=$label;object=kubelet-ca" --generate ec-p256 \
  --subject /CN=kubelet-ca --days 365 >/dev/null || fail "hwca ca init as user hwca failed"
port=""
for _ in $(seq 50); do
  p=$((10000 + RANDOM % 22000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[[ -n $port ]] || fail "no free port"
sed -i -e 's|^HWCA_CA=.*|HWCA_CA=kubelet-ca|' -e "s|^HWCA_LISTEN=.*|HWCA_LISTEN=127.0.0.1:$port|" \
  -e 's|^HWCA_SERVE_ARGS=.*|HWCA_SERVE_ARGS=|' /etc/default/hwca-serve

systemctl start hwca-serve || fail "systemctl start hwca-serve failed"
ok=""
for _ in $(seq 100); do
  ok=$(curl -sS --max-time 5 --cacert /var/lib/hwca/cas/kubelet-ca/cert.pem \
    "https://localhost:$port/healthz" 2>/dev/null) && [[ $ok == ok:* ]] && break
  systemctl is-active -q hwca-serve || fail "hwca-serve stopped: $(systemctl status hwca-serve --no-pager 2>&1 | tail -n 5)"
  sleep 0.2
done
[[ $ok == ok:* ]] || fail "no /healthz answer from hwca-serve on port $port"
keys=$(as_hwca key list --token "pkcs11:token=$label") || fail "hwca key list failed"
assert_contains "$keys" "kubelet-ca-est-tls-" "the token after the server's first start"
[[ $(stat -c %U /var/lib/hwca/cas/kubelet-ca/est-tls.pem) == hwca ]] || fail "the TLS certificate is not the hwca user's"
echo "ok: hwca-serve.service started by systemd as user hwca answers /healthz on port $port;" \
  "its first start made the TLS key in the SoftHSM2 token"
