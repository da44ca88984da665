package sim

import (
	"errors"
	"fmt"
	"path"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// BootIDPath is where Linux exposes the current boot's random ID (a UUID
// in the kernel's format, new at every boot; proc(5)).
const BootIDPath = "/proc/sys/kernel/random/boot_id"

// ErrNothingToBoot is returned by Reboot when no closure was named, no
// switch or boot action set a boot default, nothing was booted before, and
// the profile has no generation.
var ErrNothingToBoot = errors.New("sim: nothing to boot: no boot default and no profile generation")

// newBootID writes the next boot's ID (deterministic: derived from the boot
// count) to BootIDPath.
func (h *Host) newBootID() error {
	h.boots++
	hex := sha256Hex(fmt.Sprint("boot ", h.boots))
	id := fmt.Sprintf("%s-%s-%s-%s-%s", hex[0:8], hex[8:12], hex[12:16], hex[16:20], hex[20:32])
	if err := h.fs.MkdirAll(path.Dir(BootIDPath), 0o755); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	if err := h.fs.WriteFile(BootIDPath, []byte(id+"\n"), 0o444); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	return nil
}

// BootID returns the current boot's ID ("" when BootIDPath is unreadable).
func (h *Host) BootID() string {
	b, err := h.fs.ReadFile(BootIDPath)
	if err != nil || len(b) == 0 {
		return ""
	}
	return string(b[:len(b)-1])
}

// Reboot restarts the host: every process ends with the old boot (its
// scheduled effects never happen) and every unit is gone; /run is a fresh
// tmpfs (no switch lock, no /run/nixos) whose current-system and
// booted-system point at the closure booted; the boot ID is new; /nix and
// /var are kept, and so is the boot default. The closure booted is into
// when given (an operator's choice in the boot menu), else the boot default
// a switch or boot action set, else the closure booted last (no bootloader
// entry was written since: nix-env --set alone does not touch the
// bootloader), else the profile's current generation. Errors:
// ErrNothingToBoot, a bad basename, view errors.
func (h *Host) Reboot(into string) error {
	target, err := h.bootTarget(into)
	if err != nil {
		return err
	}
	h.stopEverything()
	if err := h.fs.RemoveAll("/run"); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	if err := h.fs.MkdirAll("/run", 0o755); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	h.lock.state = LockDirMissing
	for _, link := range []string{DefaultCurrentSystem, DefaultBootedSystem} {
		if err := h.pointRunLink(link, target); err != nil {
			return err
		}
	}
	return h.newBootID()
}

// bootTarget picks the closure Reboot boots.
func (h *Host) bootTarget(into string) (string, error) {
	if into != "" {
		return into, nil
	}
	if h.bootDefault != "" {
		return h.bootDefault, nil
	}
	if booted, err := h.fs.EvalSymlinks(DefaultBootedSystem); err == nil {
		return fsview.Basename(booted), nil
	}
	target, err := h.fs.EvalSymlinks(h.cfg.Profile)
	if err != nil {
		return "", fmt.Errorf("%w (%v)", ErrNothingToBoot, err)
	}
	return fsview.Basename(target), nil
}

// stopEverything ends every running process without an exit status (its
// unit run stays un-exited: the status died with the boot) and unloads
// every unit.
func (h *Host) stopEverything() {
	for name, u := range h.units {
		if u.proc != nil {
			u.proc.alive = false
			u.proc = nil
		}
		delete(h.units, name)
	}
	h.failedUnits = nil
}
