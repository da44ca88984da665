package sim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/pipeline"
	"github.com/nixfleet/nixfleet-activate/proc"
)

// agentRun issues argv through a, ignoring results.
func agentRun(a *Agent, ctx context.Context, argv ...string) {
	_, _ = a.Run(ctx, proc.Cmd{Argv: argv})
}

func TestAgentKilledBeforeACommandNeverIssuesIt(t *testing.T) {
	h := newHost(t)
	a, ctx := NewAgent(context.Background(), h, Kill{Mode: KillBefore, Match: Cmd("nix-env", "--set")})
	var seen []Command
	a.OnCommand = func(c Command) { seen = append(seen, c) }
	after := false
	killed := a.Do(func() {
		agentRun(a, ctx, "nix-store", "--realise", storePath(sysB))
		agentRun(a, ctx, "nix-env", "--profile", DefaultProfile, "--set", storePath(sysB))
		after = true
	})
	assert.True(t, killed)
	assert.False(t, after, "nothing after the kill point runs")
	assert.ErrorIs(t, context.Cause(ctx), ErrKilled)
	assert.Equal(t, 1, h.ProfileGeneration(), "the matched command did not run")
	assert.Len(t, h.Log(), 1, "the host never saw it")
	require.Len(t, seen, 2)
	assert.True(t, seen[1].Killed)
	assert.False(t, seen[1].Ran)
	assert.Equal(t, -1, seen[1].Exit)
}

func TestAgentKilledAfterFireLeavesTheUnitRunning(t *testing.T) {
	h := newHost(t)
	h.MustAddClosure(ClosureSpec{Basename: sysB, Valid: true})
	a, ctx := NewAgent(context.Background(), h, Kill{Mode: KillAfter, Match: Cmd("systemd-run")})
	probed := false
	killed := a.Do(func() {
		agentRun(a, ctx, "systemd-run", "--unit=sw", "--remain-after-exit", "--", storePath(sysB)+"/bin/switch-to-configuration", "switch")
		_, _ = a.Probe(DefaultLockPath)
		probed = true
	})
	assert.True(t, killed)
	assert.False(t, probed)
	h.Clock().Advance(time.Minute)
	assert.Equal(t, storePath(sysB), h.CurrentSystem(), "the detached unit went on without its caller")
	assert.Equal(t, "exited", h.Unit("sw").SubState)
}

func TestAgentKilledAtATimeEndsItsWaitThere(t *testing.T) {
	h := newHost(t)
	a, _ := NewAgent(context.Background(), h, Kill{Mode: KillAt, At: 3500 * time.Millisecond})
	waits := 0
	killed := a.Do(func() {
		for range 5 {
			<-a.After(2 * time.Second)
			waits++
		}
	})
	assert.True(t, killed)
	assert.Equal(t, 1, waits)
	assert.Equal(t, 3500*time.Millisecond, h.Elapsed(), "the process died at the instant, not at its wait's end")
	assert.Equal(t, 3500*time.Millisecond, a.KilledAt())
}

func TestAgentKilledAtATimeMidCommandNeverSeesItsResult(t *testing.T) {
	h := newHost(t)
	h.AddFault(Fault{Match: Cmd("nix-store"), Duration: 10 * time.Second})
	a, ctx := NewAgent(context.Background(), h, Kill{Mode: KillAt, At: time.Second})
	var seen []Command
	a.OnCommand = func(c Command) { seen = append(seen, c) }
	returned := false
	assert.True(t, a.Do(func() {
		agentRun(a, ctx, "nix-store", "--realise", storePath(sysB))
		returned = true
	}))
	assert.False(t, returned)
	require.Len(t, seen, 1)
	assert.True(t, seen[0].Ran && seen[0].Killed, "it completed on the host, unseen")
}

func TestAgentJournalOfADeadProcessWritesNothing(t *testing.T) {
	h := newHost(t)
	d := NewStateDir(h.FS(), pipeline.DefaultStateDir)
	a, ctx := NewAgent(context.Background(), h, Kill{Mode: KillAfter, Match: Cmd("nix-store")})
	j := a.Journal(d.Journal())
	assert.True(t, a.Do(func() {
		require.NoError(t, j.Save(pipeline.Record{Op: pipeline.OpActivate, Step: pipeline.StepRealised}))
		agentRun(a, ctx, "nix-store", "--realise", storePath(sysB))
		_ = j.Save(pipeline.Record{Op: pipeline.OpActivate, Step: pipeline.StepProfileSet})
	}))
	rec, err := d.Journal().Load()
	require.NoError(t, err)
	assert.Equal(t, pipeline.StepRealised, rec.Step, "the record is what was durably written before the kill")
}

func TestAgentKillAfterItsEndIsMoot(t *testing.T) {
	h := newHost(t)
	a, ctx := NewAgent(context.Background(), h, Kill{Mode: KillAt, At: time.Hour})
	assert.False(t, a.Do(func() { agentRun(a, ctx, "nix-store", "--realise", storePath(sysB)) }))
	h.Clock().Advance(2 * time.Hour)
	assert.False(t, a.Killed())
	agentRun(a, ctx, "nix-store", "--realise", storePath(sysB))
	assert.Equal(t, 1, a.Late(), "a command after the end is counted, and runs")
}

func TestAgentPassesOtherPanicsOn(t *testing.T) {
	a, _ := NewAgent(context.Background(), newHost(t), Kill{})
	assert.PanicsWithValue(t, "boom", func() { a.Do(func() { panic("boom") }) })
}
