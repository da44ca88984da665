package transcript

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nixfleet/nixfleet-activate/lockdiag"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// componentWords are `closure new`'s words for the changed components
// (pipeline.Outcome.Components, pipeline.Record.Components).
func componentWords(components []string) string {
	var words string
	for _, comp := range components {
		switch comp {
		case "kernel", "initrd", "systemd", "dbus":
			words += " " + comp + "=changed"
		case "kernel-modules":
			words += " modules=changed"
		}
	}
	return words
}

// checkWords are `closure new`'s check= words from the outcome's health
// report: each check's exit status, signal or hang (a timeout).
func (c *converter) checkWords() string {
	if c.out == nil || c.out.Health == nil {
		return ""
	}
	var words string
	for _, ch := range c.out.Health.Checks {
		switch {
		case ch.Error != "":
			c.gap("health check %s could not be run (%s): the language has no such check", ch.Name, ch.Error)
		case ch.TimedOut:
			words += " check=" + ch.Name + ":hang"
		case ch.Signal != nil:
			words += fmt.Sprintf(" check=%s:signal=%d", ch.Name, *ch.Signal)
		case ch.ExitCode != nil && ch.ExitCode.Known:
			words += fmt.Sprintf(" check=%s:exit=%d", ch.Name, ch.ExitCode.Code)
		default:
			c.gap("health check %s ended with no known status", ch.Name)
		}
	}
	return words
}

// lockHolder is `lock`'s state for a held lock: exclusive, or held-by= the
// first holder the diagnosis named (lockdiag.Kind).
func (c *converter) lockHolder() string {
	if c.out == nil || len(c.out.LockHolders) == 0 {
		return "exclusive"
	}
	h := c.out.LockHolders[0]
	switch h.Kind {
	case lockdiag.KindSwitch:
		return "held-by=switch"
	case lockdiag.KindOwnUnit:
		return "held-by=own-unit"
	case lockdiag.KindInherited:
		return "held-by=inherited:" + strings.TrimSuffix(h.Unit, ".service")
	case lockdiag.KindZombie:
		return "held-by=zombie:" + strings.TrimSuffix(h.ParentUnit, ".service")
	}
	c.note("lock holder of kind %s is converted to a plain exclusive lock", h.Kind)
	return "exclusive"
}

// systemState is `system-state WORD` from `systemctl is-system-running`.
func (c *converter) systemState() {
	if cmd := c.command("systemctl", "is-system-running"); cmd != nil {
		if word := strings.TrimSpace(string(cmd.Stdout)); word != "" {
			c.add("system-state %s", strings.Fields(word)[0])
		}
	}
}

// healthOptions are activate's health and failure options of the run.
func (c *converter) healthOptions() string {
	var opts string
	if c.o.Force {
		opts += " force"
	}
	if c.o.RequireRunning {
		opts += " require-running"
	}
	if c.o.ConfirmWithin > 0 {
		opts += " confirm-within=" + c.o.ConfirmWithin.String()
		c.confirmation()
	}
	if c.o.OnUnhealthy == pipeline.OnUnhealthyKeep {
		opts += " on-unhealthy=keep"
	}
	if c.o.OnFailure == pipeline.OnFailureKeep {
		opts += " on-failure=keep"
	}
	return opts
}

// confirmation schedules `confirm` at the run's first successful read of
// the confirmation file (its offset from the start).
func (c *converter) confirmation() {
	for _, st := range c.t.Steps {
		if isFileRead(st.Kind) && strings.Contains(path.Base(st.Path), "confirm") && st.Err == "" {
			c.add("at %s confirm", roundDur(st.At))
			return
		}
	}
}

// interruptAt is interrupt-at= at the interrupt step's offset (with
// `host costs=none` the simulated run is never later than the real one).
func (c *converter) interruptAt() string {
	if st := c.step(KindInterrupt); st != nil {
		return " interrupt-at=" + roundDur(st.At)
	}
	return ""
}

// profileLink is a profile's generation link name, its number in group 1
// (compiled on first use).
var profileLink = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^system-(\d+)-link$`) })

// profileGeneration is the generation the profile link first named (0:
// never read).
func (c *converter) profileGeneration() int {
	for _, st := range c.t.Steps {
		if st.Kind == KindReadlink && st.Path == c.o.Profile {
			if m := profileLink().FindStringSubmatch(path.Base(st.Result)); m != nil {
				n, _ := strconv.Atoi(m[1])
				return n
			}
		}
	}
	return 0
}

// profileGenerations makes a rollback's profile: the target closure at
// the generation the outcome names, the running one at the profile's.
func (c *converter) profileGenerations(target string) {
	if c.t.Header.Command != "rollback" || target == "" || c.out == nil {
		return
	}
	current, to := c.profileGeneration(), c.out.Generation
	if current == 0 || to == 0 || to >= current {
		c.gap("the rollback's generations (profile at %d, back to %d) are not expressible", current, to)
		return
	}
	c.add("profile %d:new %d:old", to, current)
}

// rollbackGeneration is rollback's generation= (the recorded run chose it
// from its last-activation record or --generation).
func (c *converter) rollbackGeneration() string {
	if c.out == nil || c.out.Generation == 0 {
		return ""
	}
	c.note("the rollback's generation is given as generation=%d (the real run read it from its last-activation record or --generation)", c.out.Generation)
	return " generation=" + strconv.Itoa(c.out.Generation)
}

// inFlight is the in-flight record the run read, nil when none.
func (c *converter) inFlight() *pipeline.Record {
	for _, st := range c.t.Steps {
		if isFileRead(st.Kind) && path.Base(st.Path) == "in-flight.json" && st.Err == "" {
			var rec pipeline.Record
			if json.Unmarshal(st.Data, &rec) == nil {
				return &rec
			}
		}
	}
	return nil
}

// fireUnit is systemd-run's --unit= as systemctl shows it (NAME.service).
func fireUnit(fire *Command) string {
	for _, a := range fire.Argv {
		if name, ok := strings.CutPrefix(a, "--unit="); ok {
			return name + ".service"
		}
	}
	return ""
}

// unitLife is what the status texts of a unit showed after its fire.
type unitLife struct {
	// ended: a status showed it ended, at (offset from the fire) with
	// code (ExecMainCode: 1 exited, 2 killed) and status; running: a
	// status showed it still running and none showed its end.
	ended, running     bool
	at                 time.Duration
	code, status       int
	firstSeenEnded     bool
	firstSeenFlippedAt time.Duration
}

// showProp is a line of systemctl show that unitLife reads: the property
// in group 1, its value in group 2 (compiled on first use).
var showProp = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^(SubState|ExecMainCode|ExecMainStatus)=(\S*)$`)
})

// unitLife reads the systemctl show steps of unit after from.
func (c *converter) unitLife(unit string, from time.Duration) unitLife {
	var u unitLife
	first := true
	for _, st := range c.t.Steps {
		if st.Kind != KindRun || st.Cmd == nil || st.At < from || !isShowOf(st.Cmd.Argv, unit) {
			continue
		}
		props := map[string]string{}
		for _, m := range showProp().FindAllStringSubmatch(string(st.Cmd.Stdout), -1) {
			props[m[1]] = m[2]
		}
		switch props["SubState"] {
		case "running", "start", "start-pre", "start-post":
			u.running = true
		case "exited", "failed", "dead":
			if props["ExecMainCode"] == "0" || props["ExecMainCode"] == "" {
				break // never ran (a unit systemd does not know)
			}
			u.ended, u.at, u.firstSeenEnded = true, st.At-from, first
			u.code, _ = strconv.Atoi(props["ExecMainCode"])
			u.status, _ = strconv.Atoi(props["ExecMainStatus"])
			return u
		}
		first = false
	}
	return u
}

func isShowOf(argv []string, unit string) bool {
	return len(argv) > 2 && path.Base(argv[0]) == "systemctl" && argv[1] == "show" && argv[len(argv)-1] == unit
}

// atLeast makes an ended unit's duration no shorter than d (its flip).
func (u *unitLife) atLeast(d time.Duration) {
	if u.ended && u.at < d {
		u.at = d + 10*time.Millisecond
	}
}

// endWords are `switch`'s or `boot`'s words for how the unit ended.
func (u unitLife) endWords() []string {
	switch {
	case u.ended:
		words := []string{"duration=" + roundDur(max(u.at, 10*time.Millisecond))}
		if u.code == 2 {
			return append(words, "signal="+strconv.Itoa(u.status))
		}
		if u.status != 0 {
			words = append(words, "exit="+strconv.Itoa(u.status))
		}
		return words
	case u.running:
		return []string{"never-ends"}
	}
	return nil
}
