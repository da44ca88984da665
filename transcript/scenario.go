package transcript

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Scenario is a transcript turned into a simulated-host scenario
// (testscripts' language): the closures and where they are, the offer, the
// lock, the switch's behaviour as the transcript saw it, the same pipeline
// call, and an assertion of the recorded outcome's kind and phase.
type Scenario struct {
	// Script is the scenario text (a testscripts txtar file).
	Script string
	// Gaps lists what the transcript shows that the language cannot
	// express, or that the converter does not derive.
	Gaps []string
	// blocking are the gaps that may make the simulated outcome's kind or
	// phase differ (the others change timings or texts only).
	blocking []string
}

// Blocking returns the gaps that may make the simulated outcome's kind or
// phase differ from the recorded one: a scenario with any is not a check.
func (s Scenario) Blocking() []string { return s.blocking }

// ToScenario converts t. It reads the recorded facts only: the links' first
// answers, the realise command's exit and stderr, the closure check's
// lstat, the switch unit's status texts and when current-system flipped.
func ToScenario(t *Transcript) Scenario {
	c := &converter{t: t, o: t.Header.Options.WithDefaults()}
	return c.convert()
}

type converter struct {
	t   *Transcript
	out *pipeline.Outcome
	rec *pipeline.Record
	// alias is the closure the call goes to: new, or old when the run
	// re-activated the running closure.
	alias    string
	o        pipeline.Options
	lines    []string
	gaps     []string
	blocking []string
}

func (c *converter) add(format string, args ...any) {
	c.lines = append(c.lines, fmt.Sprintf(format, args...))
}

// gap notes a fact the scenario leaves out that may change the outcome.
func (c *converter) gap(format string, args ...any) {
	g := fmt.Sprintf(format, args...)
	c.gaps, c.blocking = append(c.gaps, g), append(c.blocking, g)
}

// note notes a fact the scenario leaves out that changes timings or texts
// only, never the outcome's kind or phase.
func (c *converter) note(format string, args ...any) {
	c.gaps = append(c.gaps, fmt.Sprintf(format, args...))
}

func (c *converter) convert() Scenario {
	h := c.t.Header
	c.out, _ = c.t.DecodeOutcome()
	c.alias = "new"
	c.rec = c.inFlight()
	running := c.firstLink(c.o.CurrentSystem)
	c.add("# converted from a transcript recorded on a real host (%s, %s %s)", h.Tool, h.Command, h.Target.Closure)
	if running == "" && h.Command != "recover" {
		c.note("current-system was never read as a store path (the outcome cannot depend on it): the scenario's host runs `old`")
	}
	// Commands take no virtual time: the simulated run is never later than
	// the real one, whose switch times (from its fire) the scenario keeps.
	c.add("host costs=none")
	c.add("closure old valid")
	target := c.declare()
	c.add("running old")
	c.profileGenerations(target)
	c.lockState()
	c.systemState()
	c.switchBehaviour(target)
	c.call()
	if c.out != nil {
		c.add("outcome %s%s", c.out.Kind, optField(" phase=", string(c.out.Phase)))
	} else {
		c.add("stdout 'no unfinished run'")
	}
	c.notExpressed()
	return Scenario{Script: strings.Join(c.lines, "\n") + "\n", Gaps: c.gaps, blocking: c.blocking}
}

// declare declares `new`, the closure the call goes to (activate's target,
// the rollback's generation, the recovered run's closure), and returns its
// basename ("" when there is none).
func (c *converter) declare() string {
	h := c.t.Header
	switch {
	case h.Command == "activate" && h.Target.Closure != "" && h.Target.Closure == c.firstLink(c.o.CurrentSystem):
		c.alias = "old" // a re-activation of the running closure
		return h.Target.Closure
	case h.Command == "activate" && h.Target.Closure != "":
		c.declareTarget(h.Target.Closure, c.out)
		return h.Target.Closure
	case h.Command == "rollback" && c.out != nil && c.out.Closure != "":
		c.add("closure new valid%s", c.checkWords())
		return c.out.Closure
	case h.Command == "recover" && c.rec != nil && c.rec.Closure != "":
		c.add("closure new valid%s%s", componentWords(c.rec.Components), c.checkWords())
		return c.rec.Closure
	}
	return ""
}

// firstLink is the store basename a link first resolved to ("" if never).
func (c *converter) firstLink(name string) string {
	for _, s := range c.t.Steps {
		if s.Kind == KindReadlink && s.Path == name && s.Err == "" {
			return path.Base(s.Result)
		}
	}
	return ""
}

// declareTarget declares `new` as the realise answer shows it: valid,
// offered, offered with a wrong key, broken, or in no cache.
func (c *converter) declareTarget(target string, out *pipeline.Outcome) {
	opts := c.closureOptions(target, out)
	realise := c.command("nix-store", "--realise")
	switch {
	case realise == nil:
		c.add("closure new%s", opts)
	case realise.Exit == 0 && !strings.Contains(string(realise.Stderr), "copying path"):
		c.add("closure new valid%s", opts)
	default:
		c.add("closure new%s", opts)
		c.offer(realise)
	}
}

// realiseOffers maps a failed realise's stderr (Nix 2.8, docs/REAL-TOOLS.md)
// to the offer that makes the simulator print it.
var realiseOffers = []struct{ stderr, offer string }{
	{"is not signed by any of the keys", "offer new file:///srv/cache signed-by=rogue"},
	{"hash mismatch importing path", "offer new file:///srv/cache defect=hash-mismatch"},
	{"does not exist in binary cache", "offer new file:///srv/cache defect=nar-missing"},
	{"input compression not recognized", "offer new file:///srv/cache defect=garbage"},
	{"don't know how to build these paths", ""},
}

func (c *converter) offer(realise *Command) {
	if realise.Exit == 0 {
		c.add("offer new file:///srv/cache")
		return
	}
	for _, r := range realiseOffers {
		if strings.Contains(string(realise.Stderr), r.stderr) {
			if r.offer != "" {
				c.add("%s", r.offer)
			}
			return
		}
	}
	c.gap("nix-store --realise failed (exit %d) in a way the converter does not map: %s", realise.Exit, lastLine(realise.Stderr))
}

// closureOptions are `closure new`'s words: no-switch or
// switch-not-executable from the closure check, a kernel from a deferral.
func (c *converter) closureOptions(target string, out *pipeline.Outcome) string {
	var opts string
	program := path.Join(c.o.StoreDir, target, "bin/switch-to-configuration")
	for _, s := range c.t.Steps {
		if s.Kind != KindLstat || s.Path != program {
			continue
		}
		if s.Err == "errno=ENOENT" {
			opts += " no-switch"
		} else if info, err := parseInfo(program, s.Result); err == nil && info.Mode()&0o111 == 0 {
			opts += " switch-not-executable"
		}
		break
	}
	if out != nil {
		opts += componentWords(out.Components)
	}
	return opts + c.checkWords()
}

func (c *converter) lockState() {
	for _, st := range c.t.Steps {
		if st.Kind == KindLock {
			if st.Result == "held" {
				c.add("lock %s", c.lockHolder())
			} else if st.Err != "" {
				c.add("lock probe-error")
			}
			return
		}
	}
}

// switchBehaviour derives `switch new` (or `boot new` for a deferral)
// from the fire, the flip of current-system and the unit's status texts:
// when it flipped, when it ended and with which ExecMainStatus, or that it
// never ended while the run watched. A recover's switch was fired by the
// killed run (recoverSwitch).
func (c *converter) switchBehaviour(target string) {
	if c.t.Header.Command == "recover" {
		c.recoverSwitch(target)
		return
	}
	fire, fireAt := c.commandAt("systemd-run", "switch-to-configuration")
	if fire == nil || target == "" || !strings.Contains(strings.Join(fire.Argv, " "), target) {
		return
	}
	unit := fireUnit(fire)
	u := c.unitLife(unit, fireAt)
	if strings.Contains(strings.Join(fire.Argv, " "), "switch-to-configuration boot") {
		c.add("%s", strings.Join(append([]string{"boot " + c.alias}, u.endWords()...), " "))
		return
	}
	flip := "flip=never"
	if flipAt, ok := c.flipAfter(target, fireAt); ok {
		flip = "flip=" + roundDur(flipAt)
		u.atLeast(flipAt)
	}
	c.add("%s", strings.Join(append([]string{"switch " + c.alias, flip}, u.endWords()...), " "))
}

func roundDur(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }

// flipAfter is when, after fireAt, current-system first read as target.
func (c *converter) flipAfter(target string, fireAt time.Duration) (time.Duration, bool) {
	for _, s := range c.t.Steps {
		if s.At > fireAt && s.Kind == KindReadlink && s.Path == c.o.CurrentSystem && path.Base(s.Result) == target {
			return max(s.At-fireAt, 10*time.Millisecond), true
		}
	}
	return 0, false
}

func (c *converter) call() {
	h := c.t.Header
	opts := fmt.Sprintf(" poll-interval=%s budget=%s", c.o.PollInterval, c.o.PollBudget)
	if h.Events {
		opts += " events=on"
	}
	switch h.Command {
	case "activate":
		c.add("activate %s%s%s%s", c.alias, opts, c.healthOptions(), c.interruptAt())
	case "rollback":
		c.add("rollback%s%s%s", opts, c.rollbackGeneration(), c.interruptAt())
	default:
		c.recoverCall()
	}
}

// notExpressed lists recorded facts the converter leaves out.
func (c *converter) notExpressed() {
	interrupted := c.step(KindInterrupt) != nil
	for _, st := range c.t.Steps {
		if st.Kind == KindRun && st.Cmd != nil && st.Cmd.Err != "" && !interrupted {
			c.gap("a command could not run: %s", st.Cmd.Err)
		}
	}
	if c.step(KindLockFile) != nil {
		c.note("the lock diagnosis's /proc reads are converted to the holders' kinds only (lock held-by=)")
	}
	if c.out != nil && c.out.Health != nil && len(c.out.Health.Checks) > 0 {
		c.note("health checks are converted from the outcome's report: exit status, signal or hang; not their output or timing")
	}
}

// step returns the first step of kind k, nil when there is none.
func (c *converter) step(k Kind) *Step {
	for i := range c.t.Steps {
		if c.t.Steps[i].Kind == k {
			return &c.t.Steps[i]
		}
	}
	return nil
}

// command returns the first run step whose argv[0] base is prog and whose
// argv holds every word.
func (c *converter) command(prog string, words ...string) *Command {
	cmd, _ := c.commandAt(prog, words...)
	return cmd
}

func (c *converter) commandAt(prog string, words ...string) (*Command, time.Duration) {
	for _, s := range c.t.Steps {
		if s.Kind != KindRun || s.Cmd == nil || len(s.Cmd.Argv) == 0 || path.Base(s.Cmd.Argv[0]) != prog {
			continue
		}
		line := strings.Join(s.Cmd.Argv, " ")
		if allIn(line, words) {
			return s.Cmd, s.At
		}
	}
	return nil, 0
}

func allIn(line string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(line, w) {
			return false
		}
	}
	return true
}

func optField(prefix, v string) string {
	if v == "" {
		return ""
	}
	return prefix + v
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
