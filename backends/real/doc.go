// Package real is the production backend: it implements pipeline.Nix with
// nix-store and nix-env, and pipeline.Backend with flock(2), systemd-run and
// systemctl. Every process goes through a proc.Runner, so the simulator can
// answer the very same command lines; the command builders (RealiseCmd,
// SetProfileCmd, RollbackCmd, RunCmd, ...) and the output parsers
// (ClassifyRealise, ParseUnitShow, ParseGenerations, ...) are separate,
// exported functions so that dry runs can print true command lines and the
// simulator's fidelity tests can check its emulated tools against them.
//
// Command lines follow Nix 2.8 (Debian nix-bin) and systemd 252, as recorded
// in the project's REAL-TOOLS.md.
package real
