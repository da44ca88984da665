// Package testscripts is the scenario language of nixfleet-activate:
// testscript (github.com/rogpeppe/go-internal/testscript) files, one
// scenario per file, written in a small language for a simulated NixOS
// host that a NixOS operator can read without Go.
//
// Each script gets a fresh simulated host (backends/sim) and runs the
// pipeline through the real backend (backends/real) over the host's
// emulated nix-store, nix-env, systemd-run and systemctl, so every scenario
// also exercises the real command lines and output parsers. The language is
// documented in README.md (Reference), which is generated from the command
// registry:
//
//	go test ./testscripts -run TestReadme -update
//
// A suite runs from a Go test of any module with Run, or with the binary,
// no Go toolchain needed, through RunFiles (`nixfleet-activate scenario
// run`). The repository's own suite, testdata/<area>_<case>.txtar, runs
// through Run in TestScripts.
package testscripts
