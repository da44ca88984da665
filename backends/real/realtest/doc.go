// Package realtest is test support for the real backend: it drives the real
// Nix (Debian nix-bin, Nix 2.8) and a real PID-1 systemd 252 booted with
// systemd-nspawn, so integration tests can check the backend's command lines
// and parsers against the tools themselves. Only _test.go files import it.
//
// Availability. RequireNix and RequireContainer skip the calling test with a
// reason when the tools are missing or unusable (not root, no nix-store, no
// systemd-nspawn), except when the environment says the real suite must run
// (CI=true or NIXFLEET_REQUIRE_REAL=1): then they fail the test instead, so CI
// never passes by skipping. Every other helper calls the matching Require
// itself.
//
// Nix. The helpers run single-user, daemon-less Nix as root and pass the three
// settings of scripts/real/setup.sh as NIX_CONFIG (see NixConfig), so they do
// not depend on the machine's /etc/nix/nix.conf. BuildClosure builds a small
// NixOS-shaped system closure without nixpkgs (kernel, initrd, systemd and
// dbus as shared store paths chosen by version; a switch script that can be
// held at a gate file, OpenGate); NewCache makes a signed file:// binary
// cache; DeleteFromStore removes a closure from the local store so that a
// later `nix-store --realise` must substitute it.
//
// systemd. StartContainer boots the cached Debian bookworm root filesystem
// (scripts/real/rootfs.sh) with `systemd-nspawn -b`, binding the host's /nix,
// the test's directories and its caches (ContainerOpts.Caches) at the same
// paths, and returns a Container whose Exec and Runner run commands inside it
// through `nsenter -t PID1 -a`, so the real backend can run unchanged against
// the container's systemd; Start runs one in the background, to be signalled
// mid-run.
//
// OBSERVED.md next to this file records, verbatim, what these tools printed
// and returned on the reference machine; it is the contract the simulator
// (backends/sim) emulates.
package realtest
