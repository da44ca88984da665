package plan

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/real"
	"github.com/nixfleet/nixfleet-activate/fsview"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

const planned = "0123456789abcdfghijklmnpqrsvwxyz-nixos-system-web-24.11"

// planActivate runs the real pipeline and backend against a planning host
// over an OS tree.
func planActivate(t *testing.T, root string, cfg Config) (*Host, pipeline.Outcome) {
	t.Helper()
	cfg.Start = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	h := New(fsview.NewOS(root), cfg)
	b := real.New(real.Config{}).WithRunner(h, h, nil)
	deps := pipeline.Deps{Nix: b, Backend: b, FS: h.FS(), Clock: h.Clock(), Events: h.Events(),
		Journal: pipeline.FileJournal{FS: h.FS(), Dir: "/var/lib/state", UID: os.Geteuid()}}
	o := pipeline.Options{GCRootDir: "/var/lib/state/gcroots", BootIDPath: "/none"}
	return h, pipeline.Activate(context.Background(), deps, pipeline.Target{Closure: planned}, o)
}

func commands(steps []Step) [][]string {
	var argvs [][]string
	for _, s := range steps {
		if s.Kind == KindCommand || s.Kind == KindProbe {
			argvs = append(argvs, s.Argv)
		}
	}
	return argvs
}

func TestPlannedActivationOfAnOSTreeSettlesAndChangesNothing(t *testing.T) {
	root := osHost(t)
	before := snapshot(t, root)
	h, out := planActivate(t, root, Config{})
	assert.Equal(t, pipeline.Settled, out.Kind, out.Reason)
	assert.Equal(t, 2, out.Generation, "nix-env --set added generation 2 in the plan")
	assert.Equal(t, before, snapshot(t, root), "the host is unchanged")
	argvs := commands(h.Steps())
	require.Len(t, argvs, 6)
	assert.Equal(t, []string{LockProbeArgv0, pipeline.DefaultLockPath}, argvs[0])
	assert.Equal(t, "nix-store", argvs[1][0])
	assert.Equal(t, "systemctl", argvs[2][0], "the unit name released (show) before the record and the profile set")
	assert.Equal(t, []string{"nix-env", "--profile", pipeline.DefaultProfile, "--set", "/nix/store/" + planned}, argvs[3])
	assert.Equal(t, "systemd-run", argvs[4][0], "then fired")
	assert.Equal(t, "systemctl", argvs[5][0], "one poll read, one interval after the fire (no event source)")
	var waits []time.Duration
	for _, s := range h.Steps() {
		if s.Kind == KindWait {
			waits = append(waits, s.Wait)
		}
	}
	assert.Equal(t, []time.Duration{pipeline.DefaultPollInterval}, waits)
}

func TestPlannedKernelChangeDefers(t *testing.T) {
	h, out := planActivate(t, osHost(t), Config{AssumeKernelChange: true})
	assert.Equal(t, pipeline.DeferredPendingReboot, out.Kind, out.Reason)
	assert.Equal(t, []string{"kernel"}, out.Components)
	last := commands(h.Steps())
	assert.Equal(t, "systemctl", last[len(last)-1][0])
}

func TestUnplannedCommandsAreRefused(t *testing.T) {
	h := New(fsview.NewMem(), Config{})
	for _, argv := range [][]string{
		{"nix-store", "--realise", "/nix/store/x", "--debug"},
		{"nix-env", "--profile", "/p", "--rollback"},
		{"systemctl", "daemon-reload"},
		{"systemd-run", "--unit=u"},
	} {
		_, err := h.Run(context.Background(), proc.Cmd{Argv: argv})
		assert.True(t, errors.Is(err, errNotPlanned), "%q: %v", argv, err)
	}
	_, err := h.Run(context.Background(), proc.Cmd{Argv: []string{"rm", "-rf", "/"}})
	assert.ErrorIs(t, err, exec.ErrNotFound)
}
