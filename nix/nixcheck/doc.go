// Package nixcheck holds the checks of the Nix files (nix/, flake.nix,
// default.nix) that run without nixpkgs, only with Nix 2.8 (Debian nix-bin)
// and nixpkgs' lib/ (../shared/nixpkgs-lib/lib beside the repository, or
// $NIXFLEET_NIXPKGS_LIB):
//
//   - every .nix file parses (nix-instantiate --parse);
//   - nix/module.nix evaluates with lib.evalModules beside nix/tests/stubs.nix,
//     and its options and unit settings are exactly the expected ones;
//   - the units it produces, rendered into unit files, run in the
//     systemd-nspawn container of the real suites (backends/real/realtest);
//   - nix/package.nix's vendorHash is the NAR hash of `go mod vendor`; the
//     package expression (called with stub builders) stamps the version
//     into the variable the binary prints.
//
// The package has only tests. Like the real suites they skip when a tool is
// missing and fail instead under CI=true or NIXFLEET_REQUIRE_REAL=1.
// scripts/nix/check.sh runs them all.
package nixcheck
