package explore

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/clock"
	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// trustBlindNix is a deliberately broken Nix: it ignores a failed trust
// check and copies the path anyway (as with require-sigs false: the
// closure appears in the store), so the pipeline sets the profile and
// fires.
type trustBlindNix struct {
	pipeline.Nix
	fs *fsview.View
}

func (n trustBlindNix) Realise(ctx context.Context, storePath, gcRoot string) (string, error) {
	got, err := n.Nix.Realise(ctx, storePath, gcRoot)
	var re *pipeline.RealiseError
	if errors.As(err, &re) && re.Kind == pipeline.RealiseUntrusted {
		prog := path.Join(storePath, pipeline.SwitchProgramRel)
		if n.fs.MkdirAll(path.Dir(prog), 0o555) == nil {
			_ = n.fs.WriteFile(prog, []byte("#!/bin/sh\n"), 0o555)
		}
		return storePath, nil
	}
	return got, err
}

func TestTrustBlindPipelineIsCaughtAndShrunk(t *testing.T) {
	e := New(Config{Wrap: func(d pipeline.Deps) pipeline.Deps { d.Nix = trustBlindNix{d.Nix, d.FS}; return d }, Examples: 1 << 20})
	rep := e.Exhaustive(context.Background(), 2)
	require.Positive(t, rep.Violating["no-effect-after-failed-realise"], "%v", rep.Violating)
	i := slices.IndexFunc(rep.Examples, func(r *Run) bool { return r.Broke("no-effect-after-failed-realise") })
	m := e.Shrink(rep.Examples[i], "no-effect-after-failed-realise")
	assert.LessOrEqual(t, len(m.Combo), 2, m.Names())
	assert.Equal(t, "realise=lacks-signature", m.Names(), "the smallest trigger: nix-store refuses, the cache copy is fine for nix-env")
	s := m.Scenario()
	t.Logf("minimal repro %s:\n%s", m.ScenarioName(), s)
	assert.Contains(t, s, "fault nix-store --realise exit=1 stderr='error: cannot add path ''/nix/store/'$new''' because it lacks a valid signature'\n")
	assert.Contains(t, s, "\n! ran-switch-of new\nprofile-is old gen=1\n")
	assert.Contains(t, s, "outcome signature-mismatch phase=realise failure=untrusted\n", "trust-classified is broken too")
}

// brokenVariants break one invariant each, with a combination that shows
// it: every invariant can fail.
var brokenVariants = []struct {
	invariant string
	faults    []string
	wrap      func(d pipeline.Deps) pipeline.Deps
}{
	{"trust-classified", []string{"offer=unsigned"}, func(d pipeline.Deps) pipeline.Deps {
		d.Nix = untrustedAsOther{d.Nix}
		return d
	}},
	{"cache-failure-typed", []string{"offer=narinfo-http-401"}, func(d pipeline.Deps) pipeline.Deps {
		d.Nix = untrustedAsOther{d.Nix}
		return d
	}},
	{"success-only-when-switched", nil, func(d pipeline.Deps) pipeline.Deps { d.Nix = noSetNix{d.Nix}; return d }},
	{"nothing-changed-when-refused", []string{"lock=exclusive"}, func(d pipeline.Deps) pipeline.Deps {
		d.Backend = setBeforeProbe{Backend: d.Backend, nix: d.Nix}
		return d
	}},
	{"exit-status-truthful", []string{"unit=collected-at-5s", "end=exit-1@8s"}, func(d pipeline.Deps) pipeline.Deps {
		d.Backend = unknownAsZero{d.Backend}
		return d
	}},
	{"nothing-fired-twice", nil, func(d pipeline.Deps) pipeline.Deps { d.Backend = backupFire{d.Backend}; return d }},
	{"within-budget", []string{"flip=never", "end=never"}, func(d pipeline.Deps) pipeline.Deps {
		d.Clock = slowClock{d.Clock}
		return d
	}},
	{"no-command-after-outcome", nil, func(d pipeline.Deps) pipeline.Deps {
		d.Backend = &lingeringWatcher{Backend: d.Backend, clk: d.Clock.(*sim.Agent).Host().Clock()}
		return d
	}},
	{"journal-cleared", nil, func(d pipeline.Deps) pipeline.Deps { d.Journal = neverCleared{d.Journal}; return d }},
	{"failed-run-restores-profile", []string{"flip=never"}, func(d pipeline.Deps) pipeline.Deps {
		d.Nix = fakeRestore{d.Nix}
		return d
	}},
	{"recovery-consistent", []string{"kill=after-fire"}, func(d pipeline.Deps) pipeline.Deps {
		d.Journal = neverSaved{d.Journal}
		return d
	}},
	{"ended-decided-promptly", []string{"flip=never", "end=exit-1@8s"}, func(d pipeline.Deps) pipeline.Deps {
		d.Backend = blindToEnds{d.Backend}
		return d
	}},
	{"unhealthy-never-settled", []string{"check=fails"}, func(d pipeline.Deps) pipeline.Deps {
		d.Backend = checksAlwaysPass{d.Backend, d.Backend.(pipeline.HealthBackend)}
		return d
	}},
}

// checksAlwaysPass is a deliberately broken backend: it reads every
// health check's unit as exited 0, whatever the check did.
type checksAlwaysPass struct {
	pipeline.Backend
	pipeline.HealthBackend
}

func (b checksAlwaysPass) UnitStatus(ctx context.Context, unit string) (pipeline.UnitStatus, error) {
	if strings.HasPrefix(unit, pipeline.DefaultCheckUnitPrefix) {
		zero := 0
		return pipeline.UnitStatus{State: pipeline.UnitExited, Result: "success", ExitCode: &zero}, nil
	}
	return b.Backend.UnitStatus(ctx, unit)
}

func TestEveryInvariantCatchesABrokenVariant(t *testing.T) {
	covered := map[string]bool{"no-effect-after-failed-realise": true, // TestTrustBlindPipelineIsCaughtAndShrunk
		"profile-not-left-silently":       true, // Known: the real pipeline breaks it
		"outcome-valid-json":              true, // TestOutcomeValidJSONRejects
		"already-current-changes-nothing": true} // TestAlreadyCurrentChangesNothingRejects
	for _, v := range brokenVariants {
		t.Run(v.invariant, func(t *testing.T) {
			e := New(Config{Wrap: v.wrap})
			var combo []int
			for _, name := range v.faults {
				combo = append(combo, e.Catalogue().Index(name))
			}
			slices.Sort(combo)
			r := e.Run(combo)
			assert.True(t, r.Broke(v.invariant), "violations: %v\noutcome: %s", r.Violations, outcomeLine(r.Outcome))
			clean := New(Config{}).Run(combo)
			assert.False(t, clean.Broke(v.invariant), "the real pipeline keeps it on this combination")
		})
		covered[v.invariant] = true
	}
	for _, inv := range Invariants() {
		assert.True(t, covered[inv.Name], "no broken variant shows %s can fail", inv.Name)
	}
}

func TestOutcomeValidJSONRejects(t *testing.T) {
	assert.Empty(t, validJSON(pipeline.Outcome{Kind: pipeline.Settled}))
	assert.Empty(t, validJSON(pipeline.Outcome{Kind: pipeline.SwitchFailed, Phase: pipeline.PhaseVerify, ExitCode: pipeline.UnknownExit()}))
	assert.Contains(t, validJSON(pipeline.Outcome{Kind: "exploded"}), "unknown outcome")
	assert.Contains(t, validJSON(pipeline.Outcome{Kind: pipeline.SwitchFailed, Phase: "somewhere"}), "not in the contract")
	assert.Contains(t, validJSON(pipeline.Outcome{Kind: pipeline.Skipped}), "without a phase")
	assert.Contains(t, validJSON(pipeline.Outcome{Kind: pipeline.Settled, ElapsedMS: -1}), "elapsed_ms")
	assert.Contains(t, validJSON(pipeline.Outcome{Kind: pipeline.Settled, Earlier: &pipeline.Outcome{Kind: "x"}}), "unknown outcome")
}

// untrustedAsOther misclassifies every realise failure (a refused
// signature, a refused request) as other.
type untrustedAsOther struct{ pipeline.Nix }

func (n untrustedAsOther) Realise(ctx context.Context, p, gcRoot string) (string, error) {
	got, err := n.Nix.Realise(ctx, p, gcRoot)
	var re *pipeline.RealiseError
	if errors.As(err, &re) {
		re.Kind = pipeline.RealiseOther
	}
	return got, err
}

// noSetNix forgets to set the profile.
type noSetNix struct{ pipeline.Nix }

func (noSetNix) SetProfile(context.Context, string, string) error { return nil }

// setBeforeProbe "prepares" the profile before probing the lock.
type setBeforeProbe struct {
	pipeline.Backend
	nix pipeline.Nix
}

func (b setBeforeProbe) SwitchLock(ctx context.Context, p string) (pipeline.LockState, error) {
	_ = b.nix.SetProfile(ctx, pipeline.DefaultProfile, "/nix/store/"+newSys)
	return b.Backend.SwitchLock(ctx, p)
}

// unknownAsZero invents exit status 0 for a unit it cannot read (the
// --collect trap of REAL-TOOLS.md).
type unknownAsZero struct{ pipeline.Backend }

func (b unknownAsZero) UnitStatus(ctx context.Context, unit string) (pipeline.UnitStatus, error) {
	st, err := b.Backend.UnitStatus(ctx, unit)
	if err == nil && st.State == pipeline.UnitUnknown {
		zero := 0
		st = pipeline.UnitStatus{State: pipeline.UnitExited, Result: "success", ExitCode: &zero}
	}
	return st, err
}

// blindToEnds reads an ended unit as still running, as the seed's poll did
// by not reading the unit until the budget ran out.
type blindToEnds struct{ pipeline.Backend }

func (b blindToEnds) UnitStatus(ctx context.Context, unit string) (pipeline.UnitStatus, error) {
	st, err := b.Backend.UnitStatus(ctx, unit)
	if err == nil && st.State == pipeline.UnitExited {
		st = pipeline.UnitStatus{State: pipeline.UnitRunning}
	}
	return st, err
}

// backupFire also starts the switch in a second unit.
type backupFire struct{ pipeline.Backend }

func (b backupFire) Fire(ctx context.Context, req pipeline.FireRequest) error {
	if err := b.Backend.Fire(ctx, req); err != nil {
		return err
	}
	req.Unit += "-backup"
	return b.Backend.Fire(ctx, req)
}

// fakeRestore claims to switch the generation and does nothing.
type fakeRestore struct{ pipeline.Nix }

func (fakeRestore) SwitchGeneration(context.Context, string, int) error { return nil }

func TestAlreadyCurrentChangesNothingRejects(t *testing.T) {
	r := &Run{Outcome: pipeline.Outcome{Kind: pipeline.AlreadyCurrent}}
	r.start = observation{profile: newSys, generation: 2}
	r.agentEnd = observation{profile: newSys, generation: 3}
	r.agentCmds = []command{{argv: []string{"nix-env", "--profile", "p", "--set", "x"}}}
	got := checkAlreadyCurrentChangesNothing(r)
	assert.Len(t, got, 2, "%v", got)
	r.agentEnd.generation, r.agentCmds = 2, nil
	assert.Empty(t, checkAlreadyCurrentChangesNothing(r))
}

// slowClock waits three times as long as asked (a unit mix-up).
type slowClock struct{ clock.Clock }

func (c slowClock) After(d time.Duration) <-chan time.Time { return c.Clock.After(3 * d) }

// lingeringWatcher leaves a status watcher behind on the clock.
type lingeringWatcher struct {
	pipeline.Backend
	clk     *clock.Virtual
	started bool
}

func (b *lingeringWatcher) UnitStatus(ctx context.Context, unit string) (pipeline.UnitStatus, error) {
	if !b.started {
		b.started = true
		b.clk.Schedule(10*time.Second, func() { _, _ = b.Backend.UnitStatus(context.Background(), unit) })
	}
	return b.Backend.UnitStatus(ctx, unit)
}

// neverCleared keeps every record.
type neverCleared struct{ pipeline.Journal }

func (neverCleared) Clear() error { return nil }

// neverSaved writes no record.
type neverSaved struct{ pipeline.Journal }

func (neverSaved) Save(pipeline.Record) error { return nil }
