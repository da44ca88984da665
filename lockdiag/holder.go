package lockdiag

import (
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// reader describes holders from /proc.
type reader struct {
	proc     *fsview.View
	own      []string
	now      time.Time
	ctime    time.Time
	btime    time.Time
	btimeErr error
}

// describe reads one holder's /proc entries, classifies it and writes its
// hint.
func (r reader) describe(pid int, locker bool) Holder {
	h := Holder{PID: pid, Locker: locker, Kind: KindUnknown}
	st, err := r.stat(pid)
	if err == nil {
		ppid := st.PPID
		h.Comm, h.State, h.PPID = st.Comm, st.State, &ppid
		if data, err := r.proc.ReadFile(pidPath(pid, "cmdline")); err == nil {
			h.Cmdline = ParseCmdline(data)
		}
		h.Unit = r.unit(pid)
		h.Kind = r.classify(st, h, locker)
	}
	if h.Kind == KindZombie {
		if pst, err := r.stat(st.PPID); err == nil {
			h.ParentComm = pst.Comm
		}
		h.ParentUnit = r.unit(st.PPID)
	}
	r.setSince(&h, st, err)
	h.Hint = hint(h)
	return h
}

func (r reader) stat(pid int) (ProcStat, error) {
	data, err := r.proc.ReadFile(pidPath(pid, "stat"))
	if err != nil {
		return ProcStat{}, errNoProc
	}
	return ParseStat(data)
}

func (r reader) unit(pid int) string {
	data, err := r.proc.ReadFile(pidPath(pid, "cgroup"))
	if err != nil {
		return ""
	}
	return CgroupUnit(data)
}

// classify: zombie before anything (a zombie's cgroup and command line are
// no longer its own), then our own unit, then a switch, then the rest.
func (r reader) classify(st ProcStat, h Holder, locker bool) Kind {
	switch {
	case st.State == "Z":
		return KindZombie
	case h.Unit != "" && slices.Contains(r.own, h.Unit):
		return KindOwnUnit
	case IsSwitch(h.Cmdline):
		return KindSwitch
	case locker:
		return KindOther
	}
	return KindInherited
}

// IsSwitch reports whether a command line runs switch-to-configuration:
// argv[0] (switch-to-configuration-ng, a compiled binary since NixOS 24.11)
// or argv[1] (the Perl script under its interpreter, NixOS 23.05-24.05) is
// a file named switch-to-configuration in a bin directory.
func IsSwitch(argv []string) bool {
	for i := 0; i < len(argv) && i < 2; i++ {
		if path.Base(argv[i]) == "switch-to-configuration" && path.Base(path.Dir(argv[i])) == "bin" {
			return true
		}
	}
	return false
}

// setSince dates the holder from its start (boot time + starttime/ClkTck),
// else from the lock file's ctime; neither known leaves it unset.
func (r reader) setSince(h *Holder, st ProcStat, statErr error) {
	var since time.Time
	switch {
	case statErr == nil && r.btimeErr == nil:
		ticks := time.Duration(st.StartTicks) * (time.Second / ClkTck)
		since, h.SinceSource = r.btime.Add(ticks), SinceProcessStart
	case !r.ctime.IsZero():
		since, h.SinceSource = r.ctime, SinceLockCtime
	default:
		return
	}
	since = since.UTC().Truncate(time.Second)
	held := int64(r.now.Sub(since) / time.Second)
	h.Since, h.HeldForS = &since, &held
}

// stateWords are proc(5)'s names of the state letters.
var stateWords = map[string]string{
	"R": "running", "S": "sleeping", "D": "uninterruptible sleep (I/O)", "Z": "zombie",
	"T": "stopped", "t": "traced", "I": "idle", "X": "dead",
}

// hint is one sentence for an operator.
func hint(h Holder) string {
	who := fmt.Sprintf("PID %d", h.PID)
	if h.Comm != "" {
		who += " (" + h.Comm + ")"
	}
	switch h.Kind {
	case KindOwnUnit:
		return fmt.Sprintf("our own unit %s still holds the lock: %s, %s, for %s; if it hangs: nixfleet-activate unblock --stop-own-unit --older-than DURATION",
			h.Unit, who, stateWord(h.State), heldFor(h))
	case KindSwitch:
		return fmt.Sprintf("switch-to-configuration %s%s, not this agent's, has held it for %s; wait for it, or inspect it: systemctl status %s",
			who, inUnit(h.Unit), heldFor(h), orUnknown(h.Unit, fmt.Sprint(h.PID)))
	case KindInherited:
		return fmt.Sprintf("%s%s inherited the lock's descriptor and has kept it for %s; restart it: %s",
			who, inUnit(h.Unit), heldFor(h), restart(h.Unit, h.PID))
	case KindOther:
		return fmt.Sprintf("%s%s took the lock itself %s ago and is no switch-to-configuration; it holds it until it exits or unlocks",
			who, inUnit(h.Unit), heldFor(h))
	case KindZombie:
		parent := "its parent"
		if h.PPID != nil {
			parent = fmt.Sprintf("its parent PID %d", *h.PPID)
			if h.ParentComm != "" {
				parent += " (" + h.ParentComm + ")"
			}
		}
		return fmt.Sprintf("%s is a zombie that %s has not reaped; the lock stays with whoever kept its descriptor; restart the parent: %s",
			who, parent, restart(h.ParentUnit, ppidOr(h.PPID)))
	}
	return fmt.Sprintf("%s named by /proc/locks could not be read (gone, or outside this PID namespace)", who)
}

func stateWord(s string) string {
	if w, ok := stateWords[s]; ok {
		return w
	}
	return "state unknown"
}

func heldFor(h Holder) string {
	if h.HeldForS == nil {
		return "an unknown time"
	}
	return (time.Duration(*h.HeldForS) * time.Second).String()
}

func inUnit(unit string) string {
	if unit == "" {
		return ""
	}
	return " in " + unit
}

func orUnknown(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func restart(unit string, pid int) string {
	if unit == "" {
		return fmt.Sprintf("no unit known; find what started PID %d", pid)
	}
	return "systemctl restart " + unit
}

func ppidOr(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
