#!/usr/bin/env bash
# rootfs.sh [DIR] — builds, once, the Debian bookworm root filesystem that the
# real-systemd integration tests boot with `systemd-nspawn -b`.
#
# DIR defaults to /var/cache/nixfleet-activate/rootfs (outside the checkout,
# shared by every test run). The tree is a debootstrap minbase with systemd,
# systemd-sysv, dbus and nix-bin (Nix 2.8, the same as the host: the tests bind
# the host's /nix into the container) plus /etc/nix/nix.conf.
#
# Cache: a finished tree carries DIR/.nixfleet-rootfs-complete whose first
# line is "nixfleet-rootfs <format>"; when it names the current format the
# script does nothing, otherwise it rebuilds. Bump format whenever the tree's
# content changes (the Go helper realtest checks the same line). The tree is built in DIR.partial and renamed
# into place, and a lock (DIR.lock) serialises concurrent callers, so a killed
# or parallel build never leaves a half tree under DIR.
#
# The mirror is the one the host's apt uses for bookworm (see lib.sh);
# NIXFLEET_DEBIAN_MIRROR overrides it. Needs root, debootstrap and network
# access to that mirror. Takes about 2-3 minutes and ~300 MB.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

dir=${1:-/var/cache/nixfleet-activate/rootfs}
dir=${dir%/}
suite=bookworm
marker=.nixfleet-rootfs-complete
format=2

complete() { [ "$(head -n 1 "$dir/$marker" 2>/dev/null)" = "nixfleet-rootfs $format" ]; }

if complete; then
	echo "rootfs: $dir is complete (cached)"
	exit 0
fi

mkdir -p "$(dirname "$dir")"
exec 9>"$dir.lock"
flock 9
# Another caller may have finished while we waited for the lock.
if complete; then
	echo "rootfs: $dir is complete (built by another caller)"
	exit 0
fi

mirror=$(nixfleet_debian_mirror "$suite")
partial=$dir.partial
rm -rf "$partial"
start=$(date +%s)
echo "rootfs: debootstrap $suite from $mirror into $partial"
# GOTCHA: debootstrap's resolver does not follow virtual packages: nix-bin
# needs libdbd-sqlite3-perl, which needs the virtual perl-dbdabi-94, so its
# provider libdbi-perl must be named, or dpkg leaves nix-bin unconfigured.
debootstrap --variant=minbase \
	--include=systemd,systemd-sysv,dbus,nix-bin,libdbi-perl \
	"$suite" "$partial" "$mirror"

mkdir -p "$partial/etc/nix"
nixfleet_nix_conf >"$partial/etc/nix/nix.conf"
# debootstrap copies the host's /etc/hostname; without the file the
# container keeps the machine name nspawn gives it (-M) as its hostname.
rm -f "$partial/etc/hostname"
# The apt caches are dead weight in a test image.
rm -rf "$partial"/var/cache/apt/archives/*.deb "$partial"/var/lib/apt/lists/*

# Sanity: the pieces the tests rely on must be there.
for f in lib/systemd/systemd bin/systemctl bin/systemd-run usr/bin/nix-store usr/bin/dbus-daemon; do
	if [ ! -e "$partial/$f" ] && [ ! -e "$partial/usr/$f" ]; then
		echo "rootfs: $f missing from the built tree" >&2
		exit 1
	fi
done

printf 'nixfleet-rootfs %s\nbuilt %s from %s\n' "$format" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$mirror" >"$partial/$marker"
rm -rf "$dir"
mv "$partial" "$dir"
echo "rootfs: built $dir in $(($(date +%s) - start)) s ($(du -sh "$dir" | cut -f1))"
