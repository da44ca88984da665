// Package plan is the host a dry run acts on: the real pipeline and the real
// backend's command builders run against it, and it records what they do
// instead of doing it, so a plan (--dry-run) is the run's own sequence of
// command lines, lock probes, state-file writes and waits, and cannot drift
// from it.
//
// A Host reads the real host's filesystem (through a read-only view) and
// keeps every change in memory (Overlay). Its Runner answers the command
// lines the real backend builds (Nix 2.8, systemd 252; see
// docs/REAL-TOOLS.md) as a run where every step succeeds would see them:
// nix-store --realise makes the closure valid (a closure not in the local
// store is assumed to be a NixOS system whose kernel, initrd, modules,
// systemd and dbus are current-system's, or, with Config.AssumeKernelChange,
// with another kernel), nix-env --set adds a generation, a transient unit is
// not loaded before its fire, and a fired switch-to-configuration switch
// flips /run/current-system and exits 0 at the next wait. The lock probe
// finds the switch lock free and the agent lock is taken at once.
package plan
