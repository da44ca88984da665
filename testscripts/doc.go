// Package testscripts is the scenario suite of nixfleet-activate: testscript
// (github.com/rogpeppe/go-internal/testscript) files under testdata/, one
// scenario per file named <area>_<case>.txtar, written in a small language
// for a simulated NixOS host that a NixOS operator can read without Go.
//
// Each script gets a fresh simulated host (backends/sim) and runs the
// pipeline through the real backend (backends/real) over the host's
// emulated nix-store, nix-env, systemd-run and systemctl, so every scenario
// also exercises the real command lines and output parsers. The language is
// documented in README.md, which is generated from the command registry:
//
//	go test ./testscripts -run TestReadme -update
//
// The package holds no code outside its tests.
package testscripts
