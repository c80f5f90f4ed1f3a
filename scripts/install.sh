#!/usr/bin/env bash
# Install hwca on this Debian 12 machine (as root): the packages it needs, the build of what
# is installed (scripts/build.sh runtime), `cmake --install`, the hwca user, /etc/hwca, the
# /etc/default templates. docs/install.md says what goes where. A second run changes nothing
# and says so.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  cat <<'EOF'
Usage: scripts/install.sh [OPTIONS]
Installs hwca (as root): missing Debian packages, the build of hwca, hwca-node and the
provider hwca.so, `cmake --install`, the hwca system user (home /var/lib/hwca), its access to
the token, /etc/hwca and the /etc/default templates. Never overwrites a settings file.
  --prefix DIR         install prefix (default /usr/local); hwca.so goes to OpenSSL's
                       modules folder whatever the prefix (CMake's HWCA_PROVIDER_DIR)
  --server-only        only the CA side: hwca, hwca-serve.service, the user, /etc/hwca
  --node-only          only the node side: hwca-node, hwca-node-renew.service and .timer
  --token-group NAME   also put the hwca user in group NAME (a real HSM's vendor group)
  --build-dir DIR      build there (default $HWCA_BUILD_DIR, else build-install/)
  --no-build           install what the build folder holds, without building
  --root DIR           install into the system tree at DIR instead of / (images, tests):
                       files under DIR, the user and group into DIR/etc/passwd and
                       DIR/etc/group; only the build's packages, systemd is not told
  -h, --help           this text
EOF
}

die() { echo "hwca: install: $*" >&2; exit "${2:-1}"; }
usage_error() { echo "hwca: install: $* (see scripts/install.sh --help)" >&2; exit 2; }

prefix=/usr/local role=all root="" build_dir=${HWCA_BUILD_DIR:-} do_build=1 token_groups=()
while [ $# -gt 0 ]; do
  case $1 in
    --prefix | --token-group | --build-dir | --root)
      [[ $# -ge 2 && -n ${2:-} ]] || usage_error "$1 needs a value"
      case $1 in
        --prefix) prefix=$2 ;;
        --token-group) token_groups+=("$2") ;;
        --build-dir) build_dir=$2 ;;
        --root) root=${2%/} ;;
      esac
      shift 2 ;;
    --server-only | --node-only)
      want=${1#--}; want=${want%-only}
      [ "$role" = all ] || [ "$role" = "$want" ] || usage_error "--server-only and --node-only exclude each other"
      role=$want; shift ;;
    --no-build) do_build=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown option '$1'" ;;
  esac
done
[[ $prefix == /* ]] || usage_error "--prefix must be an absolute path, not '$prefix'"
if [ -n "$root" ]; then
  [[ $root == /* ]] || usage_error "--root must be an absolute path, not '$root'"
  [[ -f $root/etc/passwd && -f $root/etc/group ]] ||
    die "$root/etc/passwd or $root/etc/group is missing: --root needs a system tree with them" 3
fi
[ "$(id -u)" -eq 0 ] || die "must run as root (it creates a system user and writes /etc)" 4
build=${build_dir:-$repo/build-install}
server=0 node=0
[ "$role" = node ] || server=1
[ "$role" = server ] || node=1

changed=0
did() { echo "install: $*"; changed=1; }

# --- packages and the build ---------------------------------------------------------------
sets=(build)
((server)) && sets+=(server)
((node)) && sets+=(node)
if [ -n "$root" ]; then
  echo "install: runtime packages not installed under --root (they would go to this machine, not $root)"
  sets=(build)  # the build, if any, runs here
else
  before=$(dpkg-query -W -f='${Package}\n' 2>/dev/null | sort | md5sum)
  "$repo/scripts/setup-deps.sh" "${sets[@]}"
  [ "$before" = "$(dpkg-query -W -f='${Package}\n' 2>/dev/null | sort | md5sum)" ] ||
    did "installed the missing packages (${sets[*]})"
fi
if ((do_build)); then
  fresh=()
  # A folder of its own has no tests: the install needs neither them nor GoogleTest.
  [ -f "$build/build.ninja" ] || fresh=(-DHWCA_BUILD_TESTS=OFF -DHWCA_BUILD_BENCH=OFF)
  HWCA_DEPS="${sets[*]}" HWCA_BUILD_DIR=$build "$repo/scripts/build.sh" "${fresh[@]}" runtime ||
    die "the build in $build failed (output above)"
fi
[ -f "$build/cmake_install.cmake" ] || die "$build holds no build: run without --no-build" 3

# --- cmake --install --------------------------------------------------------------------
components=(common)
((server)) && components+=(server)
((node)) && components+=(node)
for c in "${components[@]}"; do
  out=$(DESTDIR=$root cmake --install "$build" --prefix "$prefix" --component "$c") ||
    die "cmake --install of component $c failed: $out"
  while IFS= read -r line; do
    case $line in "-- Installing: "*) did "installed ${line#-- Installing: }" ;; esac
  done <<<"$out"
done

# --- files of the system tree -----------------------------------------------------------
# ensure_dir PATH MODE OWNER GROUP: PATH under the root, made or set to MODE, OWNER:GROUP (ids).
ensure_dir() {
  local p=$root$1
  if [ ! -d "$p" ]; then
    install -d -m "$2" -o "$3" -g "$4" "$p"
    did "created $1 (mode $2, owner $(name_of passwd "$3"):$(name_of group "$4"))"
  elif [ "$(stat -c '%a %u %g' "$p")" != "$2 $3 $4" ]; then
    chmod "$2" "$p"
    chown "$3:$4" "$p"
    did "set $1 to mode $2, owner $(name_of passwd "$3"):$(name_of group "$4")"
  fi
}
# id_of passwd|group NAME: the numeric id in the root's file (empty if absent).
id_of() { awk -F: -v n="$2" '$1 == n { print $3 }' "$root/etc/$1"; }
name_of() { awk -F: -v i="$2" '$3 == i { print $1; exit }' "$root/etc/$1"; }
in_group() { awk -F: -v g="$2" -v u="$1" '$1 == g { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u) f = 1 } END { exit !f }' "$root/etc/group"; }
shadow_args=()
[ -z "$root" ] || shadow_args=(--prefix "$root")

# install_default NAME: /etc/default/NAME from the template, only when there is none.
install_default() {
  if [ -e "$root/etc/default/$1" ]; then
    return 0
  fi
  mkdir -p "$root/etc/default"
  install -m 0644 -o 0 -g 0 "$repo/scripts/systemd/$1.default" "$root/etc/default/$1"
  did "wrote /etc/default/$1 (a template: edit it)"
}

# setting FILE NAME: NAME's value in an environment file (quotes removed; empty if unset).
setting() {
  [ -f "$1" ] || return 0
  sed -n "s/^[[:space:]]*$2=//p" "$1" | tail -n 1 | sed 's/^"\(.*\)"$/\1/; s/^'"'"'\(.*\)'"'"'$/\1/'
}

unit_dir=$root$prefix/lib/systemd/system
if ((server)); then
  if [ -z "$(id_of group hwca)" ]; then
    groupadd --system "${shadow_args[@]}" hwca
    did "created group hwca"
  fi
  if [ -z "$(id_of passwd hwca)" ]; then
    useradd --system "${shadow_args[@]}" --gid hwca --home-dir /var/lib/hwca --no-create-home \
      --shell /usr/sbin/nologin --comment "hwca CA server" hwca
    did "created system user hwca (no login shell, home /var/lib/hwca)"
  fi
  uid=$(id_of passwd hwca) gid=$(id_of group hwca)
  ensure_dir /var/lib/hwca 700 "$uid" "$gid"
  ensure_dir /etc/hwca 750 0 "$gid"
  install_default hwca-serve

  # Token access. SoftHSM2: the group owning its token folder (Debian's package makes it
  # root:softhsm 2770, and /etc/softhsm readable by softhsm). A real HSM: --token-group.
  conf=$(setting "$root/etc/default/hwca-serve" SOFTHSM2_CONF)
  conf=${conf:-/etc/softhsm/softhsm2.conf}
  if [ -f "$root$conf" ]; then
    tokendir=$(sed -n 's/^[[:space:]]*directories\.tokendir[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' "$root$conf" | tail -n 1)
    tokendir=${tokendir%/}
    [ -n "$tokendir" ] || die "$conf names no directories.tokendir: set one, then run again"
    [ -d "$root$tokendir" ] || die "SoftHSM2's token folder $tokendir (from $conf) is missing: create it (mode 2770, group softhsm), then run again" 3
    tgroup=$(name_of group "$(stat -c %g "$root$tokendir")")
    [[ -n $tgroup && $tgroup != root ]] ||
      die "SoftHSM2's token folder $tokendir belongs to group ${tgroup:-$(stat -c %g "$root$tokendir")}: give it a group of its own (chgrp softhsm $tokendir; chmod 2770 $tokendir), then run again"
    token_groups+=("$tgroup")
    # The unit may write the token folder it was configured for; another one needs a drop-in.
    unit_tokendir=$(sed -n 's/^ReadWritePaths=-//p' "$unit_dir/hwca-serve.service")
    dropin_dir=$root/etc/systemd/system/hwca-serve.service.d
    if [ "$unit_tokendir" != "$tokendir" ]; then
      want=$(printf '%s\n' "# Written by scripts/install.sh: the token folder of $conf." "[Service]" "ReadWritePaths=-$tokendir")
      if [ "$(cat "$dropin_dir/token-dir.conf" 2>/dev/null)" != "$want" ]; then
        mkdir -p "$dropin_dir"
        printf '%s\n' "$want" >"$dropin_dir/token-dir.conf"
        did "wrote /etc/systemd/system/hwca-serve.service.d/token-dir.conf (ReadWritePaths=-$tokendir)"
      fi
    elif [ -f "$dropin_dir/token-dir.conf" ]; then
      rm "$dropin_dir/token-dir.conf"
      rmdir "$dropin_dir" 2>/dev/null || true
      did "removed /etc/systemd/system/hwca-serve.service.d/token-dir.conf (the unit's token folder is $tokendir)"
    fi
  elif [ ${#token_groups[@]} -eq 0 ]; then
    echo "install: no SoftHSM2 configuration ($conf): for a real HSM, run again with --token-group <the vendor's group> (docs/install.md)"
  fi
  for g in "${token_groups[@]}"; do
    [ -n "$(id_of group "$g")" ] || die "group '$g' does not exist: create it or name another with --token-group" 3
    if ! in_group hwca "$g"; then
      usermod "${shadow_args[@]}" --append --groups "$g" hwca
      did "added user hwca to group $g (token access)"
    fi
  done

  pin=$root/etc/hwca/pin
  if [ ! -e "$pin" ]; then
    cat <<'EOF'
install: /etc/hwca/pin is missing. Put the token's user PIN there (mode 0600, root), typed
         or pasted, never on a command line:  (umask 077; cat > /etc/hwca/pin)  then the PIN,
         Enter, Ctrl-D. hwca-serve.service hands it to the server as a systemd credential.
EOF
  elif [ "$(stat -c '%a %u' "$pin")" != "600 0" ]; then
    echo "install: warning: /etc/hwca/pin is mode $(stat -c %a "$pin") owned by uid $(stat -c %u "$pin"): make it 0600 root (chown root: /etc/hwca/pin; chmod 600 /etc/hwca/pin), and change the PIN if others could read it" >&2
  fi
fi
((node)) && install_default hwca-node

if ((changed)); then
  if [ -z "$root" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    echo "install: systemctl daemon-reload done"
  elif [ -z "$root" ]; then
    echo "install: systemd is not running here: no daemon-reload"
  fi
  echo "install: done; next steps: docs/install.md"
else
  echo "install: nothing to change: hwca is already installed as asked"
fi
