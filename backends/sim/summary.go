package sim

import (
	"fmt"
	"strings"

	"github.com/nixfleet/nixfleet-activate/proc"
)

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
	fmt.Fprintf(&b, "lock: %s (switch running: %t)\n", h.lock.state, h.switchRunning())
	for _, p := range h.lock.holders {
		fmt.Fprintf(&b, "lock holder: pid %d %s state %s in %s\n", p.pid, p.comm, p.state, p.unit)
	}
	return b.String()
}
