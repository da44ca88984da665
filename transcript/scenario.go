package transcript

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
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
	// express, or that the converter does not derive; each one may make
	// the simulated outcome differ.
	Gaps []string
}

// ToScenario converts t. It reads the recorded facts only: the links' first
// answers, the realise command's exit and stderr, the closure check's
// lstat, the switch unit's status texts and when current-system flipped.
func ToScenario(t *Transcript) Scenario {
	c := &converter{t: t, o: t.Header.Options.WithDefaults()}
	return c.convert()
}

type converter struct {
	t     *Transcript
	o     pipeline.Options
	lines []string
	gaps  []string
}

func (c *converter) add(format string, args ...any) {
	c.lines = append(c.lines, fmt.Sprintf(format, args...))
}
func (c *converter) gap(format string, args ...any) {
	c.gaps = append(c.gaps, fmt.Sprintf(format, args...))
}

func (c *converter) convert() Scenario {
	h := c.t.Header
	out, _ := c.t.DecodeOutcome()
	running := c.firstLink(c.o.CurrentSystem)
	c.add("# converted from a transcript recorded on a real host (%s, %s %s)", h.Tool, h.Command, h.Target.Closure)
	if running == "" {
		c.gap("current-system was never read as a store path: the scenario's host runs `old`")
	}
	c.add("closure old valid")
	target := h.Target.Closure
	if h.Command == "activate" && target != "" {
		c.declareTarget(target, out)
	}
	c.add("running old")
	c.lockState()
	c.switchBehaviour(target)
	c.call()
	if out != nil {
		c.add("outcome %s%s", out.Kind, optField(" phase=", string(out.Phase)))
	} else {
		c.add("stdout 'no unfinished run'")
	}
	c.notExpressed()
	return Scenario{Script: strings.Join(c.lines, "\n") + "\n", Gaps: c.gaps}
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
	if out != nil && len(out.Components) > 0 {
		for _, comp := range out.Components {
			switch comp {
			case "kernel", "initrd", "systemd", "dbus":
				opts += " " + comp + "=changed"
			case "kernel-modules":
				opts += " modules=changed"
			}
		}
	}
	return opts
}

func (c *converter) lockState() {
	for _, s := range c.t.Steps {
		if s.Kind == KindLock {
			if s.Result == "held" {
				c.add("lock exclusive")
			} else if s.Err != "" {
				c.add("lock probe-error")
			}
			return
		}
	}
}

// switchBehaviour derives `switch new` from the fire, the flip of
// current-system and the unit's ExecMainStatus.
func (c *converter) switchBehaviour(target string) {
	fire, fireAt := c.commandAt("systemd-run", "switch-to-configuration")
	if fire == nil || target == "" || !strings.Contains(strings.Join(fire.Argv, " "), target) {
		return
	}
	words := []string{"switch new"}
	if flipAt, ok := c.flipAfter(target, fireAt); ok {
		words = append(words, "flip="+roundDur(flipAt))
	} else {
		words = append(words, "flip=never")
	}
	if code, ok := c.unitExit(); ok && code != 0 {
		words = append(words, "exit="+strconv.Itoa(code))
	}
	c.add("%s", strings.Join(words, " "))
	c.gap("the switch's duration is not derived (the simulator's default is used); only its flip and exit status are")
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

var execMainStatus = regexp.MustCompile(`(?m)^ExecMainStatus=(\d+)$`)

// unitExit is the last ExecMainStatus a systemctl show printed.
func (c *converter) unitExit() (int, bool) {
	code, ok := 0, false
	for _, cmd := range c.t.Commands() {
		if len(cmd.Argv) > 1 && path.Base(cmd.Argv[0]) == "systemctl" && cmd.Argv[1] == "show" {
			for _, m := range execMainStatus.FindAllStringSubmatch(string(cmd.Stdout), -1) {
				code, _ = strconv.Atoi(m[1])
				ok = true
			}
		}
	}
	return code, ok
}

func (c *converter) call() {
	h := c.t.Header
	opts := fmt.Sprintf(" poll-interval=%s budget=%s", c.o.PollInterval, c.o.PollBudget)
	if h.Events {
		opts += " events=on"
	}
	switch h.Command {
	case "activate":
		c.add("activate new%s", opts)
	case "rollback":
		c.add("rollback%s", opts)
		c.gap("a rollback's generations and last-activation record are not derived")
	default:
		c.add("recover")
		c.gap("an in-flight record is not derived (use `in-flight STEP`)")
	}
}

// notExpressed lists recorded facts the converter leaves out.
func (c *converter) notExpressed() {
	for _, s := range c.t.Steps {
		if s.Kind == KindRun && s.Cmd != nil && s.Cmd.Err != "" {
			c.gap("a command could not run: %s", s.Cmd.Err)
		}
		if s.Kind == KindLockFile {
			c.gap("the lock diagnosis's /proc reads are not converted")
			break
		}
	}
	if c.command("journalctl") != nil {
		c.gap("health checks are not derived (use `closure new check=...`)")
	}
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
