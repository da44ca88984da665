package pipeline

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

// dyingJournal is a FileJournal that a kill freezes: a dead process writes
// nothing more.
type dyingJournal struct {
	FileJournal
	dead    bool
	saveErr error
}

func (j *dyingJournal) Save(r Record) error {
	if j.saveErr != nil {
		return j.saveErr
	}
	if j.dead {
		return nil
	}
	return j.FileJournal.Save(r)
}

func (j *dyingJournal) Clear() error {
	if j.dead {
		return nil
	}
	return j.FileJournal.Clear()
}

// crashWorld is a fake host with a journal and a kill switch.
type crashWorld struct {
	*fakeHost
	j      *dyingJournal
	ctx    context.Context
	cancel context.CancelFunc
}

func newCrashWorld(t *testing.T) *crashWorld {
	h := newFakeHost(t)
	ctx, cancel := context.WithCancel(context.Background())
	return &crashWorld{fakeHost: h, j: &dyingJournal{FileJournal: FileJournal{FS: h.fs, Dir: DefaultStateDir}}, ctx: ctx, cancel: cancel}
}

// kill ends the agent: its context ends and its journal writes stop.
func (w *crashWorld) kill() { w.j.dead = true; w.cancel() }

func (w *crashWorld) deps() Deps {
	d := w.fakeHost.deps()
	d.Journal = w.j
	return d
}

func (w *crashWorld) activate() Outcome {
	return Activate(w.ctx, w.deps(), Target{Closure: newClosure}, Options{})
}

// recover runs a fresh invocation's recovery.
func (w *crashWorld) recover(t *testing.T) *Outcome {
	w.j.dead = false
	out, err := Recover(context.Background(), w.deps(), Options{})
	require.NoError(t, err)
	return out
}

func (w *crashWorld) record(t *testing.T) *Record {
	rec, err := w.j.Load()
	require.NoError(t, err)
	return rec
}

func fires(effects []string) int {
	n := 0
	for _, e := range effects {
		if len(e) > 5 && e[:5] == "fire " {
			n++
		}
	}
	return n
}

// killingNix wraps the fake host's Nix to kill the agent during one call.
type killingNix struct {
	*crashWorld
	during string // "set" or "rollback"
}

func (k killingNix) SetProfile(ctx context.Context, profile, storePath string) error {
	if k.during == "set" {
		k.kill()
		return context.Canceled
	}
	return k.fakeHost.SetProfile(ctx, profile, storePath)
}

func (k killingNix) SwitchGeneration(ctx context.Context, profile string, generation int) error {
	err := k.fakeHost.SwitchGeneration(ctx, profile, generation)
	if k.during == "rollback" {
		k.kill()
	}
	return err
}

func TestKillDuringProfileSetRecoversAsAbandoned(t *testing.T) {
	w := newCrashWorld(t)
	d := w.deps()
	d.Nix = killingNix{w, "set"}
	out := Activate(w.ctx, d, Target{Closure: newClosure}, Options{})
	assert.Equal(t, Interrupted, out.Kind)
	require.NotNil(t, w.record(t))
	assert.Equal(t, StepFiring, w.record(t).Step, "an activation's first record")

	rec := w.recover(t)
	require.NotNil(t, rec)
	assert.Equal(t, Abandoned, rec.Kind)
	assert.Equal(t, PhaseNixEnvSet, rec.Phase)
	assert.True(t, rec.Recovered)
	assert.Nil(t, w.record(t), "a final recovered outcome clears the record")
	assert.Equal(t, 0, fires(w.effects))
}

func TestKillBeforeTheFireTakesEffect(t *testing.T) {
	w := newCrashWorld(t)
	w.fireErr = context.Canceled
	w.plans[newClosure] = switchPlan{}
	w.lockState = LockFree
	// The kill lands inside Fire, before the unit starts.
	d := w.deps()
	d.Backend = killingBackend{w, false}
	out := Activate(w.ctx, d, Target{Closure: newClosure}, Options{})
	assert.Equal(t, Interrupted, out.Kind)
	assert.Equal(t, StepFiring, w.record(t).Step)

	rec := w.recover(t)
	assert.Equal(t, Abandoned, rec.Kind)
	assert.Equal(t, PhaseSystemdRunFire, rec.Phase)
	assert.Contains(t, rec.Reason, newClosure, "the profile was set; the outcome says so")
	// Deliberate change (issue 9): recovery points the profile back, with no boot action (nothing ran).
	require.NotNil(t, rec.Restored)
	assert.Equal(t, RestoreDone, rec.Restored.Status)
	assert.Equal(t, BootNotNeeded, rec.Restored.Boot)
	assert.Equal(t, oldClosure, w.profile(t))
}

// killingBackend kills the agent during Fire: before (fired=false) or
// right after the unit started (fired=true).
type killingBackend struct {
	*crashWorld
	fired bool
}

func (k killingBackend) Fire(ctx context.Context, req FireRequest) error {
	if !k.fired {
		k.kill()
		return context.Canceled
	}
	k.fireErr = nil
	err := k.fakeHost.Fire(ctx, req)
	k.kill()
	return err
}

func TestKillRightAfterFireResumesWithoutFiringTwice(t *testing.T) {
	w := newCrashWorld(t)
	d := w.deps()
	d.Backend = killingBackend{w, true}
	out := Activate(w.ctx, d, Target{Closure: newClosure}, Options{})
	assert.Equal(t, Interrupted, out.Kind)
	assert.Equal(t, StepFiring, w.record(t).Step, "the dead agent never wrote 'fired'")

	rec := w.recover(t)
	assert.Equal(t, Settled, rec.Kind, rec.Reason)
	assert.True(t, rec.Recovered)
	assert.Equal(t, 1, fires(w.effects))
	assert.Equal(t, newClosure, w.current(t))
	assert.Nil(t, w.record(t))
}

func TestKillMidPollBeforeAndAfterTheFlip(t *testing.T) {
	for name, at := range map[string]time.Duration{"before flip": 3 * time.Second, "after flip": 7 * time.Second} {
		t.Run(name, func(t *testing.T) {
			w := newCrashWorld(t)
			w.clk.Schedule(at, w.kill)
			out := w.activate()
			assert.Equal(t, Interrupted, out.Kind)
			assert.Equal(t, StepFired, w.record(t).Step)

			rec := w.recover(t)
			assert.Equal(t, Settled, rec.Kind, rec.Reason)
			assert.Equal(t, oldClosure, rec.Previous)
			assert.Equal(t, 1, fires(w.effects))
		})
	}
}

func TestRecoveryReportsTheTrueFailure(t *testing.T) {
	w := newCrashWorld(t)
	w.plans[newClosure] = switchPlan{exitAt: 20 * time.Second, exitCode: 1}
	w.clk.Schedule(10*time.Second, w.kill)
	assert.Equal(t, Interrupted, w.activate().Kind)

	rec := w.recover(t)
	assert.Equal(t, SwitchFailed, rec.Kind)
	assert.Equal(t, PhaseSwitchExit, rec.Phase, "decided at the exit, not at the budget's end")
	assert.Equal(t, KnownExit(1), rec.ExitCode)
}

func TestKillDuringBootDeferRecoversDeferred(t *testing.T) {
	w := newCrashWorld(t)
	w.addClosure(newClosure, "6.12")
	w.plans[newClosure] = switchPlan{}
	d := w.deps()
	d.Backend = killingBackend{w, true}
	assert.Equal(t, Interrupted, Activate(w.ctx, d, Target{Closure: newClosure}, Options{}).Kind)

	rec := w.recover(t)
	assert.Equal(t, DeferredPendingReboot, rec.Kind, rec.Reason)
	assert.Equal(t, []string{"kernel"}, rec.Components)
}

func TestKillAfterRollbackBeforeFire(t *testing.T) {
	w := newCrashWorld(t)
	require.Equal(t, Settled, w.activate().Kind)
	d := w.deps()
	d.Nix = killingNix{w, "rollback"}
	out := Rollback(w.ctx, d, nil, Options{})
	assert.Equal(t, Interrupted, out.Kind)

	rec := w.recover(t)
	assert.Equal(t, Abandoned, rec.Kind)
	assert.Equal(t, PhaseNixEnvRollback, rec.Phase)
	assert.Contains(t, rec.Reason, oldClosure, "the outcome says where the profile was found")
	require.NotNil(t, rec.Restored, "the profile goes back where the rollback found it")
	assert.Equal(t, RestoreDone, rec.Restored.Status)
	assert.Equal(t, newClosure, w.profile(t))
}

func TestKillMidRollbackPollRecovers(t *testing.T) {
	w := newCrashWorld(t)
	require.Equal(t, Settled, w.activate().Kind)
	w.clk.Schedule(2*time.Second, w.kill)
	assert.Equal(t, Interrupted, Rollback(w.ctx, w.deps(), nil, Options{}).Kind)

	rec := w.recover(t)
	assert.Equal(t, RollbackSucceeded, rec.Kind, rec.Reason)
	assert.Equal(t, oldClosure, rec.Closure)
	assert.Equal(t, 2, fires(w.effects), "one activation, one rollback: nothing twice")
}

func TestUnresolvedRecordBlocksANewRun(t *testing.T) {
	w := newCrashWorld(t)
	w.clk.Schedule(3*time.Second, w.kill)
	w.activate()
	w.j.dead = false
	w.effects = nil

	out := Activate(context.Background(), w.deps(), Target{Closure: thirdClosure}, Options{})
	assert.Equal(t, Skipped, out.Kind)
	assert.Equal(t, PhaseJournal, out.Phase)
	assert.Empty(t, w.effects)
	assert.NotNil(t, w.record(t), "the earlier record is not discarded")
}

func TestJournalWriteFailureChangesNothing(t *testing.T) {
	w := newCrashWorld(t)
	w.j.saveErr = errors.New("no space left on device")
	out := w.activate()
	assert.Equal(t, SwitchFailed, out.Kind)
	assert.Equal(t, PhaseJournal, out.Phase)
	assert.Equal(t, []string{"lock", "realise " + newClosure, "release nixfleet-activate-switch"}, w.effects,
		"only the unit name was released (an earlier run's ended unit): the profile is untouched")
	assert.Equal(t, oldClosure, w.profile(t))
}

func TestCorruptRecordsAreKeptAsideAndReported(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":       "\x00\x01not json",
		"torn write":    `{"version":1,"op":"activate","step":"fir`,
		"older version": `{"version":0,"op":"activate","step":"fired"}`,
		"unknown op":    `{"version":1,"op":"reboot","step":"fired"}`,
	} {
		t.Run(name, func(t *testing.T) {
			w := newCrashWorld(t)
			require.NoError(t, w.fs.MkdirAll(DefaultStateDir, 0o755))
			require.NoError(t, w.fs.WriteFile(DefaultStateDir+"/in-flight.json", []byte(content), 0o644))
			_, err := Recover(context.Background(), w.deps(), Options{})
			var corrupt *CorruptRecordError
			require.ErrorAs(t, err, &corrupt)
			kept, err := w.fs.ReadFile(corrupt.KeptAt)
			require.NoError(t, err)
			assert.Equal(t, content, string(kept))
			out := w.activate()
			assert.Equal(t, Settled, out.Kind, "a kept-aside record does not block")
		})
	}
}

func TestFileJournalRoundTripOnTheOSView(t *testing.T) {
	j := FileJournal{FS: fsview.NewOS(t.TempDir()), Dir: "/var/lib/nixfleet-activate", UID: os.Geteuid()}
	rec := Record{Op: OpActivate, Step: StepFired, Closure: newClosure, Unit: "u", Action: ActionSwitch,
		PollIntervalMS: 2000, PollBudgetMS: 300000, StartedAt: time.Unix(100, 0).UTC(), FiredAt: time.Unix(101, 0).UTC()}
	require.NoError(t, j.Save(rec))
	got, err := j.Load()
	require.NoError(t, err)
	rec.Version = RecordVersion
	assert.Equal(t, &rec, got)
	require.NoError(t, j.Clear())
	got, err = j.Load()
	require.NoError(t, err)
	assert.Nil(t, got)
	require.NoError(t, j.Clear(), "clearing nothing is fine")
}

// failingAfter lets n record writes through, then fails every one.
type failingAfter struct {
	*dyingJournal
	n int
}

func (f *failingAfter) Save(r Record) error {
	if f.n == 0 {
		return errors.New("no space left on device")
	}
	f.n--
	return f.dyingJournal.Save(r)
}

func TestNoFireWithoutAFiringRecord(t *testing.T) {
	w := newCrashWorld(t)
	d := w.deps()
	d.Journal = &failingAfter{w.j, 0} // "firing", the first record, does not get through
	out := Activate(w.ctx, d, Target{Closure: newClosure}, Options{})
	assert.Equal(t, SwitchFailed, out.Kind)
	assert.Equal(t, PhaseJournal, out.Phase)
	assert.Equal(t, 0, fires(w.effects))
}

func TestKillWhileFiringWithAnEarlierUnitLoaded(t *testing.T) {
	w := newCrashWorld(t)
	require.Equal(t, Settled, w.activate().Kind, "leaves the unit loaded, exited 0")
	w.addClosure(thirdClosure, "6.6")
	d := w.deps()
	d.Backend = killingBackend{w, false}
	ctx, cancel := context.WithCancel(context.Background())
	w.ctx, w.cancel = ctx, cancel
	out := Activate(w.ctx, d, Target{Closure: thirdClosure}, Options{})
	assert.Equal(t, Interrupted, out.Kind)

	rec := w.recover(t)
	assert.Equal(t, Abandoned, rec.Kind, "the earlier run's unit was released before 'firing': it is not taken for this fire")
	assert.Equal(t, PhaseSystemdRunFire, rec.Phase)
}
