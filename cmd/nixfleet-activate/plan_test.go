package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/plan"
	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// planCase is a simulated host on which a dry run and then the run itself
// take the same path: a switch that flips and exits at one instant within
// the first poll interval, as the plan assumes.
type planCase struct {
	name string
	// spec changes simNew's closure; valid: it is in the local store.
	spec  func(*sim.ClosureSpec)
	valid bool
	// upgraded: the host already runs simNew.
	upgraded bool
	// deferred: compare the plan's deferred branch (the closure is not in
	// the store, so the plan cannot read its components).
	deferred bool
	want     pipeline.Kind
}

var planCases = []planCase{
	{name: "happy", want: pipeline.Settled},
	{name: "happy-valid", valid: true, want: pipeline.Settled},
	{name: "deferred", deferred: true, want: pipeline.DeferredPendingReboot,
		spec: func(s *sim.ClosureSpec) { s.Components = sim.Components{Kernel: "6.6.60"} }},
	{name: "deferred-valid", valid: true, want: pipeline.DeferredPendingReboot,
		spec: func(s *sim.ClosureSpec) { s.Components = sim.Components{Systemd: "256.1"} }},
	{name: "already-current", upgraded: true, want: pipeline.AlreadyCurrent},
}

// newPlanHost builds the case's host: simOld running, simNew offered by the
// signed cache.
func newPlanHost(t *testing.T, c planCase) *sim.Host {
	t.Helper()
	h, err := sim.NewHost(sim.HostConfig{Substituters: []string{simCache},
		TrustedPublicKeys: []string{sim.Key("fleet-cache")}, Costs: sim.ObservedCosts()})
	require.NoError(t, err)
	spec := sim.ClosureSpec{Basename: simNew, Valid: c.valid || c.upgraded,
		Offers: []sim.Offer{{URL: simCache, SignedBy: sim.Key("fleet-cache")}},
		Switch: &sim.SwitchBehaviour{Duration: 700 * time.Millisecond, Flip: sim.Flip{At: 700 * time.Millisecond}}}
	if c.spec != nil {
		c.spec(&spec)
	}
	require.NoError(t, h.AddClosure(sim.ClosureSpec{Basename: simOld, Valid: true}))
	require.NoError(t, h.AddClosure(spec))
	running, generations := simOld, []string{simOld}
	if c.upgraded {
		running, generations = simNew, []string{simOld, simNew}
	}
	require.NoError(t, h.InitProfile(generations...))
	require.NoError(t, h.SetCurrent(running))
	require.NoError(t, h.SetBooted(running))
	return h
}

// journalSpy records the in-flight record's steps as the run saves them.
type journalSpy struct {
	pipeline.Journal
	saved []pipeline.Step
	clear int
}

func (j *journalSpy) Save(r pipeline.Record) error {
	j.saved = append(j.saved, r.Step)
	return j.Journal.Save(r)
}

func (j *journalSpy) Clear() error {
	j.clear++
	return j.Journal.Clear()
}

// laSpy counts the last-activation record's writes.
type laSpy struct {
	pipeline.LastActivationStore
	saves int
}

func (l *laSpy) Save(la pipeline.LastActivation) error {
	l.saves++
	return l.LastActivationStore.Save(la)
}

// TestPlanIsTheRunsCommandLog plans an activation on a simulated host and
// then runs it on the same host: the plan's command lines (the lock probe
// as the simulator logs it, "flock(2) PATH") are the host's command log,
// its in-flight record writes are the steps the run saved, and its expected
// outcome is the run's. The dry run leaves the host as it was.
func TestPlanIsTheRunsCommandLog(t *testing.T) {
	require.Equal(t, sim.LockProbeArgv0, plan.LockProbeArgv0, "the plan names the lock probe as the simulator's log does")
	for _, c := range planCases {
		for _, pollOnly := range []bool{false, true} {
			name := c.name
			if pollOnly {
				name += "/poll-only"
			}
			t.Run(name, func(t *testing.T) { checkPlanAgainstRun(t, c, pollOnly) })
		}
	}
}

func checkPlanAgainstRun(t *testing.T, c planCase, pollOnly bool) {
	args := []string{"--sim", "happy", "activate"}
	if pollOnly {
		args = append([]string{"--poll-only"}, args...)
	}
	cfg, err := parseArgs(args, io.Discard)
	require.NoError(t, err)
	h := newPlanHost(t, c)
	env := simEnvironmentOn(h, cfg, io.Discard)
	opts := env.cfg.opts.WithDefaults()
	ctx := context.Background()

	before := h.Summary()
	doc := env.activatePlan(ctx, simNew, opts)
	require.Empty(t, h.Log(), "the dry run ran nothing on the host")
	assert.Equal(t, before, h.Summary(), "the dry run changed nothing")
	_, err = h.FS().Lstat(pipeline.DefaultStateDir)
	assert.Error(t, err, "the dry run wrote no state")
	if c.deferred {
		require.NotNil(t, doc.Deferred, "a closure not in the store gets the deferred branch")
		doc = *doc.Deferred
	}

	records := &journalSpy{Journal: env.deps.Journal}
	lastActivation := &laSpy{LastActivationStore: env.deps.LastActivation}
	env.deps.Journal, env.deps.LastActivation = records, lastActivation
	var stdout bytes.Buffer
	env.runActivate(ctx, &stdout, simNew, opts)
	var out struct {
		Kind pipeline.Kind `json:"outcome"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &out), stdout.String())
	require.Equal(t, c.want, out.Kind, stdout.String())
	assert.Equal(t, out.Kind, doc.ExpectedOutcome)

	var logged [][]string
	for _, e := range h.Log() {
		logged = append(logged, e.Argv)
	}
	assert.Equal(t, logged, planArgvs(doc))
	steps, clears, laWrites := planRecordWrites(doc)
	assert.Equal(t, records.saved, steps, "the in-flight record's steps, in order")
	assert.Equal(t, records.clear, clears)
	assert.Equal(t, lastActivation.saves, laWrites)
}

func planArgvs(doc planDoc) [][]string {
	var argvs [][]string
	for _, s := range doc.Steps {
		if s.Argv != nil {
			argvs = append(argvs, s.Argv)
		}
	}
	return argvs
}

// planRecordWrites returns the plan's in-flight record writes (their
// steps), its removals, and the last-activation record's writes.
func planRecordWrites(doc planDoc) (steps []pipeline.Step, clears, laWrites int) {
	stateDir := pipeline.DefaultStateDir
	for _, s := range doc.Steps {
		switch {
		case s.Write == path.Join(stateDir, pipeline.RecordFile):
			steps = append(steps, s.Step)
		case s.Remove == path.Join(stateDir, pipeline.RecordFile):
			clears++
		case s.Write == path.Join(stateDir, pipeline.LastActivationFile):
			laWrites++
		}
	}
	return steps, clears, laWrites
}
