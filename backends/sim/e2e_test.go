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
	"github.com/nixfleet/nixfleet-activate/proc"
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
		{"nix-store", "--realise", p, "--add-root", pipeline.DefaultGCRootDir + "/" + newSys, "--indirect"},
		// ReleaseUnit's status read, once and before the profile set: Fire does not release again.
		{"systemctl", "show", "--property=LoadState,ActiveState,SubState,Result,ExecMainCode,ExecMainStatus,ExecMainPID", "--", "nixfleet-activate-switch.service"},
		{"nix-env", "--profile", sim.DefaultProfile, "--set", p},
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

// The simulated lock prober satisfies the real backend's seam (checked at
// compile time).
var _ real.Locker = (*sim.Locker)(nil)

func TestRealBackendOverSimulatedHostOutcomes(t *testing.T) {
	third := sim.FakeBasename("nixos-system-web1-23.05", "third")
	cases := []struct {
		name  string
		setup func(t *testing.T, h *sim.Host)
		want  pipeline.Kind
	}{
		{"absent window", func(t *testing.T, h *sim.Host) {
			require.NoError(t, h.SetSwitch(newSys, sim.SwitchBehaviour{Duration: 9 * time.Second,
				Flip: sim.Flip{At: 2 * time.Second, AbsentFor: 3 * time.Second}}))
		}, pipeline.Settled},
		{"third closure", func(t *testing.T, h *sim.Host) {
			require.NoError(t, h.SetSwitch(newSys, sim.SwitchBehaviour{Duration: 9 * time.Second, Flip: sim.Flip{At: 2 * time.Second, To: third}}))
		}, pipeline.VerifyMismatch},
		{"exit 4", func(t *testing.T, h *sim.Host) {
			require.NoError(t, h.SetSwitch(newSys, sim.SwitchBehaviour{Duration: 9 * time.Second, Exit: 4, Flip: sim.Flip{At: 2 * time.Second}}))
		}, pipeline.SettledDegraded},
		{"lock held", func(t *testing.T, h *sim.Host) { require.NoError(t, h.SetLock(sim.LockExclusive)) }, pipeline.Skipped},
		{"kernel differs", func(t *testing.T, h *sim.Host) {
			h.MustAddClosure(sim.ClosureSpec{Basename: newSys, Components: sim.Components{Kernel: "6.6.1"},
				Offers: []sim.Offer{{URL: cache, SignedBy: sim.Key("cache-1")}}})
		}, pipeline.DeferredPendingReboot},
		{"unit left failed by an earlier run", func(t *testing.T, h *sim.Host) {
			require.NoError(t, h.SetSwitch(oldSys, sim.SwitchBehaviour{Duration: time.Second, Exit: 1}))
			res, err := h.Run(context.Background(), proc.Cmd{Argv: []string{"systemd-run", "--unit=" + pipeline.DefaultSwitchUnit,
				"--remain-after-exit", "--", "/nix/store/" + oldSys + "/bin/switch-to-configuration", "switch"}})
			require.NoError(t, err)
			require.Equal(t, 0, res.ExitCode)
			h.Clock().Advance(time.Minute)
			require.Equal(t, "failed", h.Unit(pipeline.DefaultSwitchUnit).ActiveState)
		}, pipeline.Settled},
		{"nix-env --set fails", func(t *testing.T, h *sim.Host) {
			h.SetFault(sim.Cmd("nix-env", "--set"), 1, "error: opening lock file '/nix/var/nix/profiles/system.lock': Permission denied")
		}, pipeline.SwitchFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, deps := world(t, nil)
			c.setup(t, h)
			out := pipeline.Activate(context.Background(), deps, pipeline.Target{Closure: newSys}, pipeline.Options{})
			assert.Equal(t, c.want, out.Kind, "%+v\n%s", out, h.Summary())
		})
	}
}

func TestRealBackendOverSimulatedHostRollbackAtFirstGeneration(t *testing.T) {
	h, deps := world(t, nil)
	out := pipeline.Rollback(context.Background(), deps, nil, pipeline.Options{})
	assert.Equal(t, pipeline.RollbackFailed, out.Kind, "%+v", out)
	assert.Empty(t, h.Runs(), "nothing was fired")
}
