// Package sim is a deterministic model of one NixOS host, for tests and the
// scenario suite. It answers at the process boundary: (*Host).Run implements
// proc.Runner and emulates the command lines the real backend issues
// (nix-store --realise, nix-env --profile P --set/--rollback/
// --switch-generation/--list-generations, systemd-run, systemctl show/stop/
// reset-failed) with the outputs and exit codes of Nix 2.8 (Debian nix-bin)
// and systemd 252 as recorded in the project's REAL-TOOLS.md; (*Host).Locker
// answers the flock(2) lock probe. Scenarios therefore also exercise the real
// backend's command building and output parsing.
//
// The host holds:
//   - an in-memory fsview with the real link shapes: the system profile
//     (/nix/var/nix/profiles/system -> system-N-link, relative;
//     system-N-link -> /nix/store/<basename>, absolute), /run/current-system
//     and /run/booted-system (absolute), and each valid store path as a
//     directory with bin/switch-to-configuration and the component links
//     (kernel, initrd, kernel-modules, systemd,
//     etc/systemd/system/dbus.service) whose canonical targets encode the
//     component versions;
//   - the Nix store's valid paths, substituters (reachable or not), which
//     closures they offer and how (signed by a key, unsigned, corrupt, hash
//     mismatch), and the trusted public keys;
//   - the switch lock (/run/nixos/switch-to-configuration.lock);
//   - systemd transient units with RemainAfterExit and --collect semantics;
//   - per closure, how its switch-to-configuration behaves over virtual time
//     (SwitchBehaviour, BootBehaviour);
//   - the kernel's boot ID (/proc/sys/kernel/random/boot_id), new at every
//     Reboot, which ends every process and unit and resets /run.
//
// Building hosts is cheap: store trees are written once per process and
// shared by every host copy-on-write (fsview.View.CopyTree), and a set-up
// can be built once and cloned per run (Host.Clone).
//
// Time is a *clock.Virtual: a started unit schedules its events (flip the
// link, re-point the profile, exit) on that clock, and they happen while the
// pipeline waits on the same clock. Everything runs on one goroutine; no real
// sleeps, no races. A wall clock step (clock.Virtual.StepWall) moves what Now
// reads but not the timeline events run on (Host.Elapsed stays steady). A
// Fault may take virtual time (Duration) or hang until its caller's timeout.
//
// GOTCHA: Host is not safe for concurrent use, by design (see clock.Virtual).
package sim
