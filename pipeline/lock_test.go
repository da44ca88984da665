package pipeline

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/nixfleet/nixfleet-activate/lockdiag"
)

// diagnosingHost is the fake host with a LockDiagnoser.
type diagnosingHost struct {
	*fakeHost
	diag     *lockdiag.Diagnosis
	err      error
	gotUnits []string
}

func (d *diagnosingHost) DiagnoseLock(_ context.Context, path string, own []string) (*lockdiag.Diagnosis, error) {
	d.record("diagnose %s", path)
	d.gotUnits = own
	return d.diag, d.err
}

func (d *diagnosingHost) activate(closure string) Outcome {
	deps := d.deps()
	deps.Backend = d
	return Activate(context.Background(), deps, Target{Closure: closure}, Options{})
}

func TestSkippedOutcomeNamesLockHolders(t *testing.T) {
	held := int64(3600)
	h := &diagnosingHost{fakeHost: newFakeHost(t), diag: &lockdiag.Diagnosis{Held: true, Holders: []lockdiag.Holder{
		{PID: 42, Kind: lockdiag.KindInherited, Unit: "foo.service", HeldForS: &held, Hint: "restart it: systemctl restart foo.service"}}}}
	h.lockState = LockHeld
	out := h.activate(newClosure)
	assert.Equal(t, Skipped, out.Kind)
	assert.Equal(t, PhaseLockProbe, out.Phase)
	assert.Equal(t, h.diag.Holders, out.LockHolders)
	assert.Equal(t, "the switch lock "+DefaultLockPath+" is held: restart it: systemctl restart foo.service", out.Reason)
	assert.Equal(t, []string{DefaultSwitchUnit, DefaultRollbackUnit}, h.gotUnits)
	assert.Equal(t, []string{"lock", "diagnose " + DefaultLockPath}, h.effects, "a diagnosis changes nothing")
}

func TestSkippedOutcomeWithoutDiagnosis(t *testing.T) {
	for name, h := range map[string]*diagnosingHost{
		"error":      {err: errors.New("no /proc")},
		"no holders": {diag: &lockdiag.Diagnosis{Held: true}},
	} {
		t.Run(name, func(t *testing.T) {
			h.fakeHost = newFakeHost(t)
			h.lockState = LockHeld
			out := h.activate(newClosure)
			assert.Equal(t, Skipped, out.Kind)
			assert.Empty(t, out.LockHolders)
			assert.Equal(t, "another switch-to-configuration holds "+DefaultLockPath, out.Reason)
		})
	}
}

func TestLockNotDiagnosedWhenFree(t *testing.T) {
	h := &diagnosingHost{fakeHost: newFakeHost(t)}
	out := h.activate(newClosure)
	assert.Equal(t, Settled, out.Kind)
	assert.NotContains(t, h.effects, "diagnose "+DefaultLockPath)
}
