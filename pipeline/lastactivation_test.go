package pipeline

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/fsview"
)

func TestLastActivationRoundTripAndVersion(t *testing.T) {
	v := fsview.NewMem()
	store := FileLastActivation{FS: v, Dir: "/var/lib/x"}
	got, err := store.Load()
	require.NoError(t, err)
	assert.Nil(t, got, "no record yet")

	require.NoError(t, store.Save(LastActivation{Closure: newClosure, PreviousGeneration: 16, Generation: 17, Outcome: Settled}))
	got, err = store.Load()
	require.NoError(t, err)
	assert.Equal(t, 17, got.Generation)
	assert.Equal(t, LastActivationVersion, got.Version)

	require.NoError(t, v.WriteFile("/var/lib/x/"+LastActivationFile, []byte(`{"version":2}`), 0o644))
	_, err = store.Load()
	assert.ErrorContains(t, err, "format version 2")
}

func TestActivateRecordsTheLastActivationAndRollbackUndoesIt(t *testing.T) {
	h := newFakeHost(t)
	d := h.deps()
	d.LastActivation = FileLastActivation{FS: h.fs, Dir: DefaultStateDir}
	require.Equal(t, Settled, Activate(t.Context(), d, Target{Closure: newClosure}, Options{}).Kind)
	la, err := d.LastActivation.Load()
	require.NoError(t, err)
	assert.Equal(t, LastActivation{Version: 1, Closure: newClosure, Previous: oldClosure, PreviousProfile: oldClosure,
		PreviousGeneration: 1, Generation: 2, Outcome: Settled, At: la.At}, *la)

	out := Rollback(t.Context(), d, nil, Options{})
	require.Equal(t, RollbackSucceeded, out.Kind, out.Reason)
	assert.Equal(t, AlreadyCurrent, Rollback(t.Context(), d, nil, Options{}).Kind, "the last activation is undone already")
}

func TestAlreadyCurrentRunsNothing(t *testing.T) {
	h := newFakeHost(t)
	out := h.activate(oldClosure)
	assert.Equal(t, AlreadyCurrent, out.Kind)
	assert.Equal(t, []string{"lock"}, h.effects)
	assert.True(t, out.Success())
	forced := Activate(t.Context(), h.deps(), Target{Closure: oldClosure}, Options{Force: true})
	assert.Equal(t, Settled, forced.Kind, forced.Reason)
}

// Only the steps that record an action already taken skip the state
// directory's sync; a step written before its action never does.
func TestRecordsDoneAction(t *testing.T) {
	done := map[Step]bool{StepProfileSet: true, StepFired: true}
	for _, s := range []Step{StepRealised, StepProfileSet, StepRolledBack, StepFiring, StepFired,
		StepRestoringProfile, StepRestoringBoot} {
		if recordsDoneAction(s) != done[s] {
			t.Errorf("recordsDoneAction(%s) = %v", s, !done[s])
		}
	}
}
