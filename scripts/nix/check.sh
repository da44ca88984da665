#!/usr/bin/env bash
# check.sh — the four checks of the Nix files, all in the Go package
# nix/nixcheck, with nothing allowed to skip (NIXFLEET_REQUIRE_REAL=1):
#   1. every .nix file parses              TestNixFilesParse
#   2. the module evaluates, options and
#      unit settings are the expected ones TestModule*
#   3. its units run in a systemd-nspawn
#      container (root, nix-bin, rootfs)   TestModuleUnitsInContainer
#   4. vendorHash matches go mod vendor    TestVendorHash
#   and the package expression's attributes and version stamp
#                                          TestPackageExpression, TestVersionStamp
# Needs nix-instantiate and nix-hash (Debian nix-bin, Nix 2.8), nixpkgs' lib at
# ../shared/nixpkgs-lib/lib beside the repository (or $NIXFLEET_NIXPKGS_LIB),
# and for check 3 root, systemd-nspawn and the container root filesystem
# (scripts/real/setup.sh, scripts/real/rootfs.sh). Extra arguments go to
# go test (e.g. -run TestModule). Takes about 25 s.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export NIXFLEET_REQUIRE_REAL=1
exec go test -count=1 -timeout 10m "$@" ./nix/nixcheck
