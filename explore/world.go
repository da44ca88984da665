package explore

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
)

// step is one part of a Spec: the scenario lines that declare it and the
// same change applied to a host under construction. Building and rendering
// walk the same steps, so a printed scenario sets up the host the run had.
type step struct {
	// lines are scenario lines (none for a step only the build needs).
	lines []string
	apply func(b *builder) error
}

// builder is a host under construction.
type builder struct {
	h *sim.Host
	// closures are declared here and added to the host once complete (one
	// AddClosure each: a valid closure's tree is written on every add).
	closures map[string]*sim.ClosureSpec
	order    []string
}

// steps lists the Spec's steps in scenario order.
func (s Spec) steps() []step {
	return append(s.setupSteps(), s.runSteps()...)
}

// setupSteps are the host, its closures and what it runs: the set-up that
// many specs share, built once per distinct set-up and cloned per run
// (see build).
func (s Spec) setupSteps() []step {
	var out []step
	out = append(out, s.hostStep())
	out = append(out, s.closureSteps()...)
	return append(out, s.switchStep(), s.bootStep(), commitStep(), s.runningStep())
}

// runSteps are the rest: host state, faults and scheduled events.
func (s Spec) runSteps() []step {
	var out []step
	out = append(out, s.hostStateSteps()...)
	out = append(out, s.faultSteps()...)
	out = append(out, s.eventSteps()...)
	return append(out, s.confirmStep()...) // issue 18
}

// build returns a fresh host set up as the Spec says: a clone of the
// host its set-up steps make (built once per distinct set-up, see
// setupCache), then the run steps applied to it.
func (s Spec) build() (*sim.Host, error) {
	template, err := setups.host(s)
	if err != nil {
		return nil, err
	}
	h, err := template.Clone()
	if err != nil {
		return nil, fmt.Errorf("explore: cloning the set-up: %w", err)
	}
	return h, apply(&builder{h: h}, s.runSteps())
}

// apply applies steps to b in order.
func apply(b *builder, steps []step) error {
	for _, st := range steps {
		if err := st.apply(b); err != nil {
			return fmt.Errorf("explore: building %v: %w", st.lines, err)
		}
	}
	return nil
}

// setups caches the hosts that set-up steps make. Hosts in it are only
// ever cloned.
var setups = setupCache{hosts: map[setupKey]*sim.Host{}}

// maxSetups bounds the cache; past it the cache starts again.
const maxSetups = 1024

type setupCache struct {
	mu    sync.Mutex
	hosts map[setupKey]*sim.Host
}

// setupKey is every part of a Spec that its set-up steps read.
//
// LOADBEARING: a field a set-up step reads and this key lacks makes two
// different set-ups share one cached host. TestSetUpKeySaysAllTheLinesSay
// checks, for every combination of up to two faults, that specs with one
// key render the same set-up lines (which say all a set-up is, as a
// printed scenario sets up the host its run had), and
// TestSetUpCacheBuildsWhatTheStepsDo that cached and step-by-step hosts
// run alike.
type setupKey struct {
	op                       Op
	nixVersion               string
	offer                    OfferSpec
	realisesAs, kernel, dbus string
	brokenBinary, usesThird  bool
	noSwitch                 bool
	switchSpec               SwitchSpec
	bootSpec                 BootSpec
	check                    sim.Check // issue 18: new's health check (zero: none)
}

func (s Spec) setupKey() setupKey {
	return setupKey{op: s.Op, nixVersion: s.NixVersion, offer: s.Offer, realisesAs: s.RealisesAs, kernel: s.Kernel,
		dbus: s.Dbus, brokenBinary: s.BrokenBinary, usesThird: s.usesThird(), switchSpec: s.Switch, bootSpec: s.Boot,
		noSwitch: s.NoSwitch, check: s.checkValue()}
}

// checkValue is new's health check as a comparable value (zero: none).
func (s Spec) checkValue() sim.Check {
	if s.Health.Check == nil {
		return sim.Check{}
	}
	return *s.Health.Check
}

// host returns the host that s's set-up steps make, building it on first
// use.
func (c *setupCache) host(s Spec) (*sim.Host, error) {
	key := s.setupKey()
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.hosts[key]; ok {
		return h, nil
	}
	b := &builder{closures: map[string]*sim.ClosureSpec{}}
	if err := apply(b, s.setupSteps()); err != nil {
		return nil, err
	}
	if len(c.hosts) >= maxSetups {
		clear(c.hosts)
	}
	c.hosts[key] = b.h
	return b.h, nil
}

func (s Spec) hostStep() step {
	var words []string
	if s.NixVersion != "" {
		words = append(words, "nix="+s.NixVersion)
	}
	substituters := []string{cacheURL}
	if s.Offer.http() {
		substituters = append(substituters, httpCacheURL)
		words = append(words, "substituters="+cacheURL+","+httpCacheURL)
	}
	var lines []string
	if len(words) > 0 {
		lines = []string{"host " + strings.Join(words, " ")}
	}
	nix := s.NixVersion // GOTCHA: a closure capturing s copies the whole Spec to the heap
	return step{lines: lines, apply: func(b *builder) error {
		h, err := sim.NewHost(sim.HostConfig{NixVersion: nix, Substituters: substituters,
			TrustedPublicKeys: []string{sim.Key(cacheKey)}, Costs: sim.ObservedCosts()})
		b.h = h
		return err
	}}
}

// closureSteps declares old, third (when used) and new, then new's offer.
func (s Spec) closureSteps() []step {
	out := []step{s.closureStep(aliasOld, closureOpts{valid: true, broken: s.BrokenBinary && s.Op == OpRollback})}
	if s.usesThird() {
		out = append(out, s.closureStep(aliasThird, closureOpts{}))
	}
	out = append(out, s.closureStep(aliasNew, closureOpts{valid: s.Op == OpRollback, kernel: s.Kernel, dbus: s.Dbus,
		realisesAs: s.RealisesAs, broken: s.BrokenBinary && s.Op == OpActivate, noSwitch: s.NoSwitch, check: s.Health.Check}))
	if s.Op == OpActivate && !s.Offer.Absent {
		out = append(out, s.offerStep())
	}
	return out
}

// closureOpts are the options of one `closure` line.
type closureOpts struct {
	valid, broken bool
	noSwitch      bool
	kernel, dbus  string
	realisesAs    string
	check         *sim.Check // issue 18
}

func (s Spec) closureStep(alias string, o closureOpts) step {
	line := "closure " + alias
	spec := &sim.ClosureSpec{Basename: basenameOf(alias), Valid: o.valid, BrokenBinary: o.broken,
		Components: sim.Components{Kernel: o.kernel, Dbus: o.dbus}}
	line += flag(o.valid, "valid") + opt("kernel", o.kernel) + opt("dbus", o.dbus) + opt("realises-as", o.realisesAs) +
		flag(o.broken, "broken-binary") + flag(o.noSwitch, "no-switch") + checkArg(o.check)
	if o.check != nil {
		spec.Checks = []sim.Check{*o.check}
	}
	if o.noSwitch {
		spec.Program = sim.ProgramMissing
	}
	if o.realisesAs != "" {
		spec.RealisesAs = basenameOf(o.realisesAs)
	}
	return step{lines: []string{line}, apply: func(b *builder) error {
		b.closures[alias], b.order = spec, append(b.order, alias)
		return nil
	}}
}

func (s Spec) offerStep() step {
	line := "offer new " + cacheURL
	signer := cacheKey
	switch s.Offer.SignedBy {
	case "":
	case "unsigned":
		signer = ""
		line += " signed-by=unsigned"
	default:
		signer = s.Offer.SignedBy
		line += " signed-by=" + s.Offer.SignedBy
	}
	defect := s.Offer.Defect
	line += opt("defect", string(defect))
	url, narinfoHTTP, narHTTP := cacheURL, s.Offer.NarinfoHTTP, s.Offer.NarHTTP
	if s.Offer.http() {
		url = httpCacheURL
		line = strings.Replace(line, cacheURL, httpCacheURL, 1) + optInt("narinfo-http", narinfoHTTP) + optInt("nar-http", narHTTP)
	}
	return step{lines: []string{line}, apply: func(b *builder) error {
		offer := sim.Offer{URL: url, Defect: defect, NarinfoStatus: narinfoHTTP, NarStatus: narHTTP}
		if signer != "" { // the key is made here: the lines alone are made on every build
			offer.SignedBy = sim.Key(signer)
		}
		c := b.closures[aliasNew]
		c.Offers = append(c.Offers, offer)
		return nil
	}}
}

// switchStep sets the target's switch behaviour (no line for the default).
func (s Spec) switchStep() step {
	w := s.Switch
	if !w.Set {
		return step{apply: func(*builder) error { return nil }}
	}
	d := defaultSwitch()
	line := "switch " + s.target() +
		optDur("duration", w.Duration, d.Duration) + optInt("exit", w.Exit) + optInt("signal", w.Signal) +
		flag(w.CoreDump, "core-dump") + flag(w.Never, "never-ends")
	if w.FlipNever {
		line += " flip=never"
	} else {
		line += optDur("flip", w.FlipAt, d.FlipAt)
	}
	line += opt("flip-to", w.FlipTo) + optDur("absent", w.Absent, 0) + optDur("back-at", w.BackAt, 0)
	if w.ProfileMoveTo != "" {
		line += fmt.Sprintf(" profile-move=%s@%s", w.ProfileMoveTo, w.ProfileMoveAt)
	}
	if w.ProfileGeneration > 0 {
		line += fmt.Sprintf(" profile-generation=%d@%s", w.ProfileGeneration, w.ProfileMoveAt)
	}
	target := s.target()
	return step{lines: []string{line}, apply: func(b *builder) error {
		b.closures[target].Switch = w.behaviour()
		return nil
	}}
}

// behaviour is the sim's form of the spec.
func (w SwitchSpec) behaviour() *sim.SwitchBehaviour {
	b := &sim.SwitchBehaviour{Duration: w.Duration, Exit: w.Exit, Signal: w.Signal, CoreDump: w.CoreDump, Never: w.Never,
		Flip: sim.Flip{At: w.FlipAt, Never: w.FlipNever, AbsentFor: w.Absent, BackAt: w.BackAt}}
	if w.FlipTo != "" {
		b.Flip.To = basenameOf(w.FlipTo)
	}
	switch {
	case w.ProfileMoveTo != "":
		b.ProfileMove = &sim.ProfileMove{At: w.ProfileMoveAt, To: basenameOf(w.ProfileMoveTo)}
	case w.ProfileGeneration > 0:
		b.ProfileMove = &sim.ProfileMove{At: w.ProfileMoveAt, Generation: w.ProfileGeneration}
	}
	return b
}

func (s Spec) bootStep() step {
	w := s.Boot
	if !w.Set {
		return step{apply: func(*builder) error { return nil }}
	}
	line := "boot new" + optDur("duration", w.Duration, sim.DefaultBoot().Duration) + optInt("exit", w.Exit) +
		optInt("signal", w.Signal) + flag(w.Never, "never-ends")
	return step{lines: []string{line}, apply: func(b *builder) error {
		b.closures[aliasNew].Boot = &sim.BootBehaviour{Duration: w.Duration, Exit: w.Exit, Signal: w.Signal, Never: w.Never}
		return nil
	}}
}

// commitStep adds the declared closures to the host, in declaration order.
func commitStep() step {
	return step{apply: func(b *builder) error {
		for _, alias := range b.order {
			if err := b.h.AddClosure(*b.closures[alias]); err != nil {
				return err
			}
		}
		return nil
	}}
}

// runningStep: activate starts on old (generation 1); rollback on new
// (generations old, new).
func (s Spec) runningStep() step {
	if s.Op == OpRollback {
		return step{lines: []string{"profile old new", "current new", "booted new"}, apply: func(b *builder) error {
			return firstErr(b.h.InitProfile(oldSys, newSys), b.h.SetCurrent(newSys), b.h.SetBooted(newSys))
		}}
	}
	return step{lines: []string{"running old"}, apply: func(b *builder) error {
		return firstErr(b.h.InitProfile(oldSys), b.h.SetCurrent(oldSys), b.h.SetBooted(oldSys))
	}}
}

// hostStateSteps: the lock, the substituter, the current-system link.
func (s Spec) hostStateSteps() []step {
	var out []step
	if lock := s.Lock; lock != "" {
		out = append(out, step{lines: []string{"lock " + string(lock)}, apply: func(b *builder) error {
			return b.h.SetLock(lock)
		}})
	}
	if s.Unreachable {
		out = append(out, step{lines: []string{"unreachable " + cacheURL}, apply: func(b *builder) error {
			b.h.SetUnreachable(cacheURL, true)
			return nil
		}})
	}
	if s.CurrentMissing {
		out = append(out, step{lines: []string{"current missing"}, apply: func(b *builder) error {
			return b.h.FS().RemoveAll(sim.DefaultCurrentSystem)
		}})
	}
	return out
}

func (s Spec) faultSteps() []step {
	out := make([]step, 0, len(s.Faults))
	for _, f := range s.Faults {
		line := "fault " + f.Program + " " + strings.Join(f.Words, " ") + fmt.Sprintf(" exit=%d", f.Exit)
		if f.Stderr != "" {
			line += " stderr=" + quote(f.Stderr)
		}
		line += optInt("times", f.Times)
		fault := sim.Fault{Match: sim.Cmd(f.Program, f.Words...), Exit: f.Exit, Stderr: f.Stderr, Times: f.Times}
		out = append(out, scheduled(f.At, line, func(h *sim.Host) error { h.AddFault(fault); return nil }))
	}
	return out
}

// eventSteps: link changes and the loss of the unit's status.
func (s Spec) eventSteps() []step {
	var out []step
	for _, e := range s.Events {
		target := e.Target
		out = append(out, scheduled(e.At, "current "+target, func(h *sim.Host) error {
			if target == "missing" {
				return h.FS().RemoveAll(sim.DefaultCurrentSystem)
			}
			return h.SetCurrent(basenameOf(target))
		}))
	}
	if s.Collected != nil {
		unit := s.unit()
		out = append(out, scheduled(*s.Collected, "unit-collected "+unit, func(h *sim.Host) error {
			collect(h, unit)
			return nil
		}))
	}
	return out
}

// scheduled is a step that happens at `at` of virtual time ("at D LINE"), or
// at once when at is 0. An effect's error surfaces when the host is read.
func scheduled(at time.Duration, line string, effect func(*sim.Host) error) step {
	if at <= 0 {
		return step{lines: []string{line}, apply: func(b *builder) error { return effect(b.h) }}
	}
	return step{lines: []string{fmt.Sprintf("at %s %s", at, line)}, apply: func(b *builder) error {
		h := b.h
		h.Clock().Schedule(at, func() { _ = effect(h) })
		return nil
	}}
}

// notFoundShow is systemd 252's answer to the backend's `systemctl show
// --property=...` for a unit it does not have loaded (REAL-TOOLS.md: a
// collected unit reads LoadState=not-found, Result=success,
// ExecMainStatus=0), in systemd's own property order.
const notFoundShow = "Result=success\nExecMainPID=0\nExecMainCode=0\nExecMainStatus=0\nLoadState=not-found\nActiveState=inactive\nSubState=dead"

// collect makes the unit's status lost, as `systemd-run --collect` would
// (systemd 252): show answers not-found, stop and reset-failed "not
// loaded". GOTCHA: the sim has no call that unloads a unit, so this is
// done with faults at the process boundary, as the scenario language's
// unit-collected does.
func collect(h *sim.Host, unit string) {
	name := unit + ".service"
	h.AddFault(sim.Fault{Match: sim.Cmd("systemctl", "show", name), Stdout: notFoundShow})
	h.AddFault(sim.Fault{Match: sim.Cmd("systemctl", "stop", name), Exit: 5,
		Stderr: fmt.Sprintf("Failed to stop %[1]s: Unit %[1]s not loaded.", name)})
	h.AddFault(sim.Fault{Match: sim.Cmd("systemctl", "reset-failed", name), Exit: 1,
		Stderr: fmt.Sprintf("Failed to reset failed state of unit %[1]s: Unit %[1]s not loaded.", name)})
}

// Scenario-line helpers: " name=value" when value is set, " name" when on.

func opt(name, value string) string {
	if value == "" {
		return ""
	}
	return " " + name + "=" + value
}

func optInt(name string, v int) string {
	if v == 0 {
		return ""
	}
	return fmt.Sprintf(" %s=%d", name, v)
}

func optDur(name string, v, def time.Duration) string {
	if v == def {
		return ""
	}
	return fmt.Sprintf(" %s=%s", name, v)
}

func flag(on bool, name string) string {
	if !on {
		return ""
	}
	return " " + name
}

// quote renders s as one testscript word: single-quoted (” for a quote,
// no $ expansion inside), with each closure's store basename spliced in as
// an unquoted $alias so the scenario names it as it declares it.
func quote(s string) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	for _, alias := range []string{aliasOld, aliasNew, aliasThird} {
		q = strings.ReplaceAll(q, basenameOf(alias), "'$"+alias+"'")
	}
	return q
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
