package sim

import (
	"fmt"
	"strings"

	"github.com/nixfleet/nixfleet-activate/proc"
)

// lockSummary says what a probe of the switch lock finds and why: "held
// by" each holder (a unit's running switch-to-configuration, a switch
// outside the simulation, a bystander's inherited descriptor, a zombie's
// parent), else the lock file's state ("free", "stale (free)",
// "dir-missing (free)", ...), or that the probe fails.
func (h *Host) lockSummary() string {
	if h.lock.state == LockProbeError {
		return "unknown (the probe fails: permission denied)"
	}
	if by := h.lockHolderNames(); len(by) > 0 {
		return "held by " + strings.Join(by, "; ")
	}
	if h.lock.state == LockFree {
		return "free"
	}
	return string(h.lock.state) + " (free)"
}

// lockHolderNames names each holder of the switch lock, units first (a
// LockExclusive state is an outside switch holder, HoldLock's).
func (h *Host) lockHolderNames() []string {
	var by []string
	for _, name := range h.unitNames() {
		if p := h.units[name].proc; p != nil && p.alive && p.locks {
			by = append(by, "unit "+name+"'s switch-to-configuration")
		}
	}
	for _, p := range h.lock.holders {
		// A zombie has no descriptor: its parent, which keeps it, is named.
		if p.locker != 0 && p.state != "Z" {
			by = append(by, h.lock.holders.describe(p))
		}
	}
	return by
}

// describe names a holder with a descriptor to the lock: the process that
// took it, the parent of a zombie that took it, or a process that
// inherited it from a switch that has exited.
func (hs holderSet) describe(p *procEntry) string {
	who := fmt.Sprintf("pid %d %s in %s", p.pid, p.comm, p.unit)
	if p.locker == p.pid {
		return who
	}
	for _, z := range hs {
		if z.pid == p.locker && z.state == "Z" {
			return fmt.Sprintf("%s (keeping the descriptor of its zombie child pid %d %s)", who, z.pid, z.comm)
		}
	}
	return fmt.Sprintf("%s (inherited descriptor of exited pid %d)", who, p.locker)
}

// String renders the entry as one line for logs and golden files:
// "+12s nix-store --realise /nix/store/... => 0", with "=> error: ..."
// when the command returned no status.
func (e LogEntry) String() string {
	outcome := fmt.Sprint(e.ExitCode)
	if e.Err != "" && e.ExitCode == -1 {
		outcome = "error: " + e.Err
	}
	return fmt.Sprintf("+%s %s => %s", e.At, proc.Cmd{Argv: e.Argv}.String(), outcome)
}

// Summary renders the host's state for failure messages: the virtual time,
// the links, the profile generations, the boot default, the loaded units
// and the lock state, one fact a line.
func (h *Host) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "elapsed: %s\n", h.Elapsed())
	fmt.Fprintf(&b, "current-system: %s\n", orDefault(h.CurrentSystem(), "(missing)"))
	fmt.Fprintf(&b, "booted-system: %s\n", orDefault(h.BootedSystem(), "(missing)"))
	for _, g := range h.Profile() {
		mark := ""
		if g.Current {
			mark = " (current)"
		}
		fmt.Fprintf(&b, "generation %d: %s%s\n", g.Number, g.Target, mark)
	}
	fmt.Fprintf(&b, "boot default: %s\n", orDefault(h.BootDefault(), "(none)"))
	for _, name := range h.unitNames() {
		u := h.units[name]
		fmt.Fprintf(&b, "unit %s: %s/%s result=%s code=%d status=%d\n",
			name, u.ActiveState, u.SubState, u.Result, u.ExecMainCode, u.ExecMainStatus)
	}
	fmt.Fprintf(&b, "lock: %s\n", h.lockSummary())
	for _, p := range h.lock.holders {
		fmt.Fprintf(&b, "lock holder: pid %d %s state %s in %s\n", p.pid, p.comm, p.state, p.unit)
	}
	return b.String()
}
