package transcript

import (
	"path"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// killAt maps the in-flight record's step to the kill-agent line that
// leaves the simulated host's record at the same step ("firing" with the
// profile moved; see killFor for one that had not).
var killAt = map[pipeline.Step]string{
	pipeline.StepRealised: "kill-agent before nix-env --set",
	pipeline.StepFiring:   "kill-agent before systemd-run",
	pipeline.StepFired:    "kill-agent after systemd-run",
}

// sinceFire is how long before the recover started the killed run fired
// its switch (0 when it did not).
func (c *converter) sinceFire() time.Duration {
	if c.rec == nil || c.rec.FiredAt.IsZero() {
		return 0
	}
	return max(c.t.Header.Start.Sub(c.rec.FiredAt), 0)
}

// recoverSwitch derives the killed run's switch from what the recover
// saw: flipped or ended already at its first look (then at half the time
// since the fire), or later (the time since the fire plus the offset).
func (c *converter) recoverSwitch(target string) {
	if c.rec == nil || c.rec.Step != pipeline.StepFired || target == "" {
		return
	}
	before := c.sinceFire()
	if c.rebootedInto() != "" {
		c.add("switch new never-ends flip=never")
		return
	}
	u := c.unitLife(c.rec.Unit+".service", 0)
	if u.ended {
		u.at = before + u.at
		if u.firstSeenEnded {
			u.at = max(before/2, 20*time.Millisecond)
		}
	}
	if c.rec.Action == pipeline.ActionBoot {
		c.add("%s", strings.Join(append([]string{"boot new"}, u.endWords()...), " "))
		return
	}
	flip := "flip=never"
	if at, first, ok := c.flipInRecover(target); ok {
		flipAt := before + at
		if first {
			flipAt = max(before/4, 10*time.Millisecond)
		}
		flip = "flip=" + roundDur(flipAt)
		u.atLeast(flipAt)
	}
	c.add("%s", strings.Join(append([]string{"switch new", flip}, u.endWords()...), " "))
}

// flipInRecover is when current-system first read as target in the
// recover, and whether that was its first read of the link.
func (c *converter) flipInRecover(target string) (at time.Duration, first, ok bool) {
	first = true
	for _, st := range c.t.Steps {
		if st.Kind != KindReadlink || st.Path != c.o.CurrentSystem {
			continue
		}
		if path.Base(st.Result) == target {
			return st.At, first, true
		}
		first = false
	}
	return 0, false, false
}

// rebootedInto is the alias of the closure the host booted when the boot
// ID the recover read differs from the killed run's ("" when the same).
func (c *converter) rebootedInto() string {
	if c.rec == nil || c.rec.BootID == "" {
		return ""
	}
	for _, st := range c.t.Steps {
		if isFileRead(st.Kind) && st.Path == c.o.BootIDPath && st.Err == "" {
			if strings.TrimSpace(string(st.Data)) == c.rec.BootID {
				return ""
			}
			booted := c.firstLink(c.o.BootedSystem)
			if booted == c.rec.Closure {
				return "new"
			}
			return "old"
		}
	}
	return ""
}

// recoverCall is the killed run (kill-agent and the same call with the
// record's poll options), a reboot or the time until the recover, and
// the recover (interrupt-at= when the recorded one was interrupted).
func (c *converter) recoverCall() {
	if c.rec == nil {
		if c.out != nil {
			c.gap("the recover's outcome came from no in-flight record the converter could read")
		}
		c.add("recover%s", c.interruptAt())
		return
	}
	kill, ok := c.killFor(c.rec)
	if !ok || c.rec.Op != pipeline.OpActivate {
		c.gap("an in-flight record of a %s at step %s is not converted (only an activate's at realised, firing or fired)", c.rec.Op, c.rec.Step)
		c.add("recover%s", c.interruptAt())
		return
	}
	c.add("%s", kill)
	interval := time.Duration(c.rec.PollIntervalMS) * time.Millisecond
	budget := time.Duration(c.rec.PollBudgetMS) * time.Millisecond
	c.add("activate new poll-interval=%s budget=%s", interval, budget)
	if into := c.rebootedInto(); into != "" {
		c.add("reboot into=%s", into)
	} else if d := c.sinceFire(); d > 0 {
		c.add("advance %s", roundDur(d))
	}
	c.add("recover%s", c.interruptAt())
}

// killFor is the kill-agent line for rec (killAt): an activation's
// "firing" record is written before its profile set, so one whose profile
// the recover found on the run's starting generation, and which the set
// would have moved (it did not already hold the closure), was killed
// before nix-env --set.
func (c *converter) killFor(rec *pipeline.Record) (string, bool) {
	if rec.Step == pipeline.StepFiring && rec.PreviousProfile != rec.Closure && rec.PreviousGeneration != 0 &&
		c.profileGeneration() == rec.PreviousGeneration {
		return "kill-agent before nix-env --set", true
	}
	kill, ok := killAt[rec.Step]
	return kill, ok
}
