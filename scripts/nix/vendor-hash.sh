#!/usr/bin/env bash
# vendor-hash.sh — prints the vendorHash that nix/package.nix needs: the NAR
# hash (nix-hash, Nix 2.8 or later) of `go mod vendor`, in SRI form. Run it
# after go.mod/go.sum change and paste its output into nix/package.nix;
# `go test ./nix/nixcheck -run TestVendorHash` checks the two agree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
GOFLAGS=-mod=mod GOWORK=off go mod vendor -o "$tmp/vendor"
hex=$(nix-hash --type sha256 "$tmp/vendor")
printf 'sha256-%s\n' "$(printf '%b' "$(printf '%s' "$hex" | sed 's/../\\x&/g')" | base64 -w0)"
