package main

// Issue 10's hardening with the production binary against real Nix 2.8 and
// systemd 252 in a container (see e2e_real_test.go): two real runs at once
// (the second is skipped at agent-lock, the first's record untouched) and a
// non-root run refused before any command.

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

func TestBinaryRealHardening(t *testing.T) {
	n := realtest.RequireNix(t)
	realtest.RequireContainer(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	gate := filepath.Join(root, "gates", "held")
	a := buildClosure(t, realtest.ClosureOpts{Variant: e2eVariant(t, "a"), TestRoot: root})
	b := buildClosure(t, realtest.ClosureOpts{Variant: e2eVariant(t, "b-gated"), TestRoot: root, FlipGate: gate})
	h := bootHost(t, n, dir, a)
	key := h.cache.PublicKey()

	t.Run("two real runs at once: the second is skipped at agent-lock, nothing read or changed", func(t *testing.T) {
		first := h.start(t, key, "activate", b)
		held := h.waitRecord(t, first, b, pipeline.StepFired) // the switch waits at its gate
		stdout, stderr, exit := h.run(t, key, "activate", a)
		out := decodeOutcome(t, pipeline.Skipped, stdout, stderr)
		assert.Equal(t, ExitSkipped, exit)
		assert.Equal(t, pipeline.PhaseAgentLock, out.Phase)
		assert.Contains(t, out.Reason, "another nixfleet-activate run holds the agent lock")
		assert.Nil(t, out.Earlier, "the live run was not taken for a crashed one")
		assert.Equal(t, held, *h.record(t), "the first run's record is untouched")
		assert.Equal(t, b, h.link("profiles/system"), "the profile stays where the first run put it")
		realtest.OpenGate(t, gate)
		ended := h.wait(t, first)
		assert.Equal(t, ExitSuccess, ended.Code)
		settled := decodeOutcome(t, pipeline.Settled, ended.Stdout, ended.Stderr)
		assert.Equal(t, filepath.Base(b), settled.Closure)
		assert.Equal(t, b, h.link("run/current-system"))
		assert.Nil(t, h.record(t))
	})
	t.Run("non-root: refused before any command", func(t *testing.T) {
		// The binary must be executable by nobody inside the container.
		require.NoError(t, os.Chmod(dir, 0o755))
		require.NoError(t, os.Chmod(filepath.Dir(h.bin), 0o755))
		switches, unit := h.switchLog(t), h.unit(t, e2eSwitchUnit)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		argv := append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, h.argv(key, "activate", a)...)
		stdout, stderr, exit, err := h.box.Exec(ctx, argv...)
		require.NoError(t, err, stderr)
		out := decodeOutcome(t, pipeline.BadEnvironment, stdout, stderr)
		assert.Equal(t, ExitBadEnvironment, exit)
		assert.Equal(t, pipeline.PhaseEnvironment, out.Phase)
		assert.Contains(t, out.Reason, "must run as root (running as uid 65534)")
		assert.NotContains(t, stderr, `"msg":"realise"`, "no command ran")
		assert.Equal(t, b, h.link("run/current-system"))
		assert.Equal(t, b, h.link("profiles/system"))
		gens, _ := h.generations(t)
		assert.Equal(t, []int{1, 2}, gens)
		assert.Equal(t, switches, h.switchLog(t), "no switch ran")
		assert.Equal(t, unit, h.unit(t, e2eSwitchUnit), "no unit touched")
		assert.Nil(t, h.record(t))
	})
}
