package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

var (
	oldSys = sim.FakeBasename("nixos-system-web1-23.05", "old")
	newSys = sim.FakeBasename("nixos-system-web1-23.05", "new")
)

const cache = "file:///srv/cache"

// world is a host running oldSys (generation 1) with newSys in a signed
// cache, and the pipeline's dependencies wired through the real backend.
func world(t *testing.T, newSwitch *sim.SwitchBehaviour) (*sim.Host, pipeline.Deps) {
	t.Helper()
	h := sim.MustNewHost(sim.HostConfig{Substituters: []string{cache}, TrustedPublicKeys: []string{sim.Key("cache-1")}})
	h.MustAddClosure(sim.ClosureSpec{Basename: oldSys, Valid: true})
	h.MustAddClosure(sim.ClosureSpec{Basename: newSys, Switch: newSwitch,
		Offers: []sim.Offer{{URL: cache, SignedBy: sim.Key("cache-1")}}})
	require.NoError(t, h.InitProfile(oldSys))
	require.NoError(t, h.SetCurrent(oldSys))
	require.NoError(t, h.SetBooted(oldSys))
	return h, depsFor(h)
}

// depsFor wires the pipeline to h through the real backend.
func depsFor(h *sim.Host) pipeline.Deps {
	b := real.New(real.Config{Runner: h, Locker: h.Locker()})
	return pipeline.Deps{Nix: b, Backend: b, FS: h.FS(), Clock: h.Clock()}
}

func argvs(h *sim.Host) [][]string {
	var out [][]string
	for _, e := range h.Log() {
		out = append(out, e.Argv)
	}
	return out
}

func TestRealBackendOverSimulatedHostSettles(t *testing.T) {
	h, deps := world(t, &sim.SwitchBehaviour{Duration: 7 * time.Second, Flip: sim.Flip{At: 5 * time.Second}})
	out := pipeline.Activate(context.Background(), deps, pipeline.Target{Closure: newSys}, pipeline.Options{})
	require.Equal(t, pipeline.Settled, out.Kind, "%+v", out)
	assert.Equal(t, "/nix/store/"+newSys, h.CurrentSystem())
	assert.Equal(t, newSys, h.ProfileTarget())
	assert.Equal(t, 2, h.ProfileGeneration())
	runs := h.Runs()
	require.Len(t, runs, 1)
	assert.Equal(t, newSys, runs[0].Closure)

	p := "/nix/store/" + newSys
	want := [][]string{
		{sim.LockProbeArgv0, sim.DefaultLockPath},
		{"nix-store", "--realise", p},
		{"nix-env", "--profile", sim.DefaultProfile, "--set", p},
		{"systemctl", "show", "--property=LoadState,ActiveState,SubState,Result,ExecMainCode,ExecMainStatus,ExecMainPID", "nixfleet-activate-switch.service"},
	}
	got := argvs(h)
	require.GreaterOrEqual(t, len(got), len(want)+1)
	assert.Equal(t, want, got[:len(want)])
	assert.Equal(t, "systemd-run", got[len(want)][0])
	assert.Contains(t, got[len(want)], p+"/bin/switch-to-configuration")
	for _, e := range h.Log() {
		assert.NotEqual(t, -1, e.ExitCode, "%v", e.Argv)
	}
}

func TestRealBackendOverSimulatedHostUntrusted(t *testing.T) {
	h := sim.MustNewHost(sim.HostConfig{NixVersion: "2.13", Substituters: []string{cache}})
	h.MustAddClosure(sim.ClosureSpec{Basename: oldSys, Valid: true})
	h.MustAddClosure(sim.ClosureSpec{Basename: newSys, Offers: []sim.Offer{{URL: cache}}})
	require.NoError(t, h.InitProfile(oldSys))
	require.NoError(t, h.SetCurrent(oldSys))
	out := pipeline.Activate(context.Background(), depsFor(h), pipeline.Target{Closure: newSys}, pipeline.Options{})
	assert.Equal(t, pipeline.SignatureMismatch, out.Kind, "%+v", out)
	assert.Equal(t, 1, h.ProfileGeneration(), "nothing changed")
}

func TestRealBackendOverSimulatedHostNeverFlips(t *testing.T) {
	h, deps := world(t, &sim.SwitchBehaviour{Never: true, Flip: sim.Flip{Never: true}})
	out := pipeline.Activate(context.Background(), deps, pipeline.Target{Closure: newSys}, pipeline.Options{})
	assert.Equal(t, pipeline.SwitchFailed, out.Kind, "%+v", out)
	assert.GreaterOrEqual(t, h.Elapsed(), 300*time.Second)
	assert.Less(t, h.Elapsed(), 310*time.Second)
}

func TestRealBackendOverSimulatedHostRollback(t *testing.T) {
	h, deps := world(t, nil)
	out := pipeline.Activate(context.Background(), deps, pipeline.Target{Closure: newSys}, pipeline.Options{})
	require.Equal(t, pipeline.Settled, out.Kind, "%+v", out)
	out = pipeline.Rollback(context.Background(), deps, nil, pipeline.Options{})
	require.Equal(t, pipeline.RollbackSucceeded, out.Kind, "%+v", out)
	assert.Equal(t, "/nix/store/"+oldSys, h.CurrentSystem())
	runs := h.Runs()
	require.Len(t, runs, 2)
	assert.Equal(t, oldSys, runs[1].Closure, "the rolled-back target's own binary ran")
}

func TestLockerSatisfiesTheRealSeam(t *testing.T) {
	var _ real.Locker = sim.MustNewHost(sim.HostConfig{}).Locker()
}
