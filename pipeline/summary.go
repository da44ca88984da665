package pipeline

import (
	"fmt"
	"strings"
	"time"
)

// Summary renders an outcome as one human sentence for the operator (the
// last log line of a run): the kind and phase, the time taken, what the
// host runs now (running is /run/current-system's basename, "" when it
// could not be read), the generation, the switch's status, a restore and
// failed units with the journalctl command that shows them. It is prose,
// not a contract: programs read the JSON outcome.
func Summary(out Outcome, running string) string {
	var b strings.Builder
	b.WriteString(string(out.Kind))
	if out.Phase != "" && !out.success() {
		b.WriteString(" at " + string(out.Phase))
	}
	fmt.Fprintf(&b, " after %s", (time.Duration(out.ElapsedMS) * time.Millisecond).String())
	if running == "" {
		b.WriteString("; current-system unreadable")
	} else {
		b.WriteString("; host runs " + running)
	}
	if out.Generation != 0 {
		fmt.Fprintf(&b, " (profile generation %d)", out.Generation)
	}
	if out.Switch != nil {
		b.WriteString("; " + switchPhrase(*out.Switch))
	}
	if out.Restored != nil {
		b.WriteString("; " + restorePhrase(*out.Restored))
	}
	if len(out.FailedUnits) > 0 {
		b.WriteString("; failed units: " + strings.Join(out.FailedUnits, " ") + " (see: " + JournalctlHint(out.FailedUnits) + ")")
	}
	if out.RebootPending {
		b.WriteString("; reboot pending")
	}
	return b.String()
}

// JournalctlHint is the command that shows the units' logs of the current
// boot (journalctl(1), systemd 252: -u repeatable, -b this boot).
func JournalctlHint(units []string) string {
	parts := []string{"journalctl"}
	for _, u := range units {
		parts = append(parts, "-u", u)
	}
	return strings.Join(append(parts, "-b"), " ")
}

func switchPhrase(s SwitchReport) string {
	switch {
	case s.Signal != nil:
		return fmt.Sprintf("switch unit %s killed by signal %d", s.Unit, *s.Signal)
	case s.State == UnitExited && s.ExitCode != nil && s.ExitCode.Known:
		return fmt.Sprintf("switch unit %s exited %d", s.Unit, s.ExitCode.Code)
	}
	return fmt.Sprintf("switch unit %s %s", s.Unit, s.State)
}

func restorePhrase(r Restore) string {
	phrase := "restore " + string(r.Status)
	if r.Status == RestoreDone {
		phrase = "restored"
	}
	if r.Generation != 0 {
		phrase += fmt.Sprintf(" to profile generation %d", r.Generation)
	}
	if r.Boot != "" {
		phrase += ", boot default " + string(r.Boot)
	}
	return phrase
}
