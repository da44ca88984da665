package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/real/realtest"
	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// ranCommands returns the command lines a run logged ("command finished"
// at --log-level debug, real.Backend.run), in order.
func ranCommands(t *testing.T, stderr string) []string {
	t.Helper()
	var cmds []string
	for _, line := range strings.Split(stderr, "\n") {
		var rec struct {
			Msg string `json:"msg"`
			Cmd string `json:"cmd"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "command finished" {
			cmds = append(cmds, rec.Cmd)
		}
	}
	return cmds
}

// plannedCommands returns a plan's command lines as the log renders them
// (the lock probe, a flock(2) call, is not a logged command).
func plannedCommands(doc planDoc) []string {
	var cmds []string
	for _, s := range doc.Steps {
		if s.Argv != nil && s.Argv[0] != "flock(2)" {
			cmds = append(cmds, proc.Cmd{Argv: s.Argv}.String())
		}
	}
	return cmds
}

// collapseRepeats drops a line equal to the one before it: a real switch
// takes longer than the plan's, so the run reads the unit's status more
// often.
func collapseRepeats(lines []string) []string {
	var out []string
	for i, l := range lines {
		if i == 0 || l != lines[i-1] {
			out = append(out, l)
		}
	}
	return out
}

// TestDryRunRealIsTheRunsCommandLog plans, then runs, an activation on a
// real host (Nix 2.8, systemd 252 in a container): a closure only in the
// cache (the plan's main branch: a live switch) and a valid one with another
// kernel (read from the store: the plan defers). The dry run changes
// nothing, and its command lines are the ones the run then logs (repeated
// status reads of a longer real switch aside).
func TestDryRunRealIsTheRunsCommandLog(t *testing.T) {
	n := realtest.RequireNix(t)
	realtest.RequireContainer(t)
	dir := t.TempDir()
	closure := closureBuilder(t, filepath.Join(dir, "root"))
	a := closure("a", realtest.ClosureOpts{})
	b := closure("b", realtest.ClosureOpts{})
	k := closure("k-kernel", realtest.ClosureOpts{KernelVersion: "6.6.1"})
	h := bootHost(t, n, dir, a)
	h.cache.Publish(t, b)
	realtest.DeleteFromStore(t, b)
	key := h.cache.PublicKey()

	for _, c := range []struct {
		name, closure, unit string
		plan, run           pipeline.Kind
	}{
		{"cache-only closure: live switch", b, "nixfleet-e2e-dry-switch", pipeline.Settled, pipeline.Settled},
		// A unit name of its own: the plan assumes the name is free (an
		// exited unit left loaded would add systemctl stop and reset-failed).
		{"valid closure with another kernel: deferred", k, "nixfleet-e2e-dry-boot", pipeline.DeferredPendingReboot, pipeline.DeferredPendingReboot},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := hostFacts(t, h)
			stdout, stderr, exit := h.run(t, key, "--switch-unit", c.unit, "--dry-run", "activate", filepath.Base(c.closure))
			require.Equal(t, ExitSuccess, exit, stderr)
			var doc planDoc
			require.NoError(t, json.Unmarshal([]byte(stdout), &doc), stdout)
			assert.Equal(t, c.plan, doc.ExpectedOutcome, stdout)
			assert.Empty(t, ranCommands(t, stderr), "the dry run ran no command")
			assert.Equal(t, before, hostFacts(t, h), "the dry run changed nothing")
			assert.Equal(t, pipeline.UnitStatus{State: pipeline.UnitUnknown}, h.unit(t, c.unit), "no unit fired")
			assert.Equal(t, c.closure == k, h.valid(t, c.closure), "the dry run realised nothing")

			stdout, stderr, _ = h.run(t, key, "--switch-unit", c.unit, "activate", filepath.Base(c.closure))
			var out pipeline.Outcome
			require.NoError(t, json.Unmarshal([]byte(stdout), &out), stdout)
			require.Equal(t, c.run, out.Kind, "%s\n%s", stdout, stderr)
			assert.Equal(t, collapseRepeats(plannedCommands(doc)), collapseRepeats(ranCommands(t, stderr)))
		})
	}
}

// hostFacts are what a run would change: the links, the generations, the
// in-flight record and the switches run so far.
func hostFacts(t *testing.T, h *host) []string {
	t.Helper()
	gens, current := h.generations(t)
	rec := h.record(t)
	return []string{h.link("run/current-system"), h.link("profiles/system"), fmt.Sprint(gens, current),
		fmt.Sprint(rec), fmt.Sprint(h.switchLog(t))}
}
