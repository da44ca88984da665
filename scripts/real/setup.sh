#!/usr/bin/env bash
# setup.sh — prepares a Debian 12 machine (root) for the real-tool
# integration tests and acceptance runs: installs the packages when missing,
# configures single-user Nix, and prints the tool versions. Idempotent.
#
# Nix configuration, decided: ${NIX_CONF_DIR:-/etc/nix}/nix.conf is the
# source of truth, because acceptance runs the production binary, which
# inherits no test harness environment. A missing file is written with the
# three settings of lib.sh (nixfleet_nix_conf); an existing file only gets
# the settings it does not mention at all appended, and a conflicting value
# is reported, not rewritten (the machine's owner decides). The Go test
# helpers additionally export the same three lines as NIX_CONFIG to every
# command they run, so the tests work even against an unconfigured or
# differently configured file.
#
# The container root filesystem is built separately by rootfs.sh (or on
# first use by the Go helper realtest.RequireContainer).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "setup: must run as root" >&2
	exit 1
fi

packages=(nix-bin systemd-container debootstrap)
missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	echo "setup: packages present: ${packages[*]}"
fi

conf=${NIX_CONF_DIR:-/etc/nix}/nix.conf
mkdir -p "$(dirname "$conf")"
if [ ! -e "$conf" ]; then
	nixfleet_nix_conf >"$conf"
	echo "setup: wrote $conf"
else
	while IFS= read -r line; do
		key=${line%% =*}
		current=$(grep -E "^[[:space:]]*${key}[[:space:]]*=" "$conf" | tail -n 1 || true)
		if [ -z "$current" ]; then
			printf '%s\n' "$line" >>"$conf"
			echo "setup: appended '$line' to $conf"
		elif [ "$(echo "$current" | tr -d '[:space:]')" != "$(echo "$line" | tr -d '[:space:]')" ]; then
			echo "setup: WARNING: $conf has '$current', tests expect '$line' (left unchanged)" >&2
		fi
	done < <(nixfleet_nix_conf)
	echo "setup: $conf checked"
fi

echo "setup: versions"
nix-store --version
nix-env --version
systemd-nspawn --version | head -n 1
echo "debootstrap $(dpkg-query -W -f='${Version}' debootstrap)"
pid1=$(cat /proc/1/comm)
if [ "$pid1" = systemd ]; then
	echo "host PID 1: systemd"
else
	echo "host PID 1: $pid1 (not systemd: nspawn needs --keep-unit --register=no)"
fi
