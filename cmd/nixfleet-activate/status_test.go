package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

func TestStatusNothingReadOnlyWhenEveryReadFailed(t *testing.T) {
	unknown := map[string]pipeline.SwitchReport{"u": {Unit: "u", State: pipeline.UnitUnknown}}
	assert.True(t, hostStatus{Units: unknown}.nothingRead())
	assert.False(t, hostStatus{Units: unknown, CurrentSystem: "x"}.nothingRead())
	notLoaded := map[string]pipeline.SwitchReport{"u": {Unit: "u", State: unitNotLoaded}}
	assert.False(t, hostStatus{Units: notLoaded}.nothingRead(), "systemd answered: a unit not loaded is a fact read")
}

func TestStatusTableForAPerson(t *testing.T) {
	st := hostStatus{CurrentSystem: "new", BootedSystem: "old", Lock: "free",
		Profile: profileStatus{Path: "/nix/var/nix/profiles/system", Closure: "new",
			Generations: []generation{{Number: 1, Created: "2026-11-29T12:00:00Z"}, {Number: 2, Created: "2026-11-30T12:00:00+01:00", Current: true}}},
		Units: map[string]pipeline.SwitchReport{"nixfleet-activate-switch": {Unit: "nixfleet-activate-switch", State: unitNotLoaded}},
		LastActivation: &pipeline.LastActivation{Closure: "new", Outcome: pipeline.Settled, Generation: 2, PreviousGeneration: 1,
			At: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}}
	var b bytes.Buffer
	require.NoError(t, writeStatusTable(&b, st))
	out := b.String()
	assert.Regexp(t, `(?m)^generations +2  2026-11-30T12:00:00\+01:00  \(current\)\n +1  2026-11-29T12:00:00Z$`, out, "newest first, with the zone")
	assert.Regexp(t, `(?m)^unit nixfleet-activate-switch +not-loaded$`, out)
	assert.Regexp(t, `(?m)^last activation +settled new at 2026-11-30T12:00:00Z, generation 2 \(from 1\)$`, out)
	assert.Regexp(t, `(?m)^unfinished run +none$`, out)
}

// A run awaiting its confirmation is no crash to recover: the table says
// until when it waits and which command ends the wait.
func TestStatusTableAwaitingConfirmation(t *testing.T) {
	deadline := time.Date(2026, 11, 30, 12, 5, 0, 0, time.UTC)
	waiting := &pipeline.Record{Op: pipeline.OpActivate, Closure: "new", Step: pipeline.StepAwaitingConfirmation, ConfirmDeadline: deadline}
	assert.Equal(t, "activate new awaits confirmation until 2026-11-30T12:05:00Z (nixfleet-activate confirm)", inFlightPhrase(waiting))
	killed := &pipeline.Record{Op: pipeline.OpActivate, Closure: "new", Step: pipeline.StepFired}
	assert.Equal(t, "activate new at step fired (nixfleet-activate recover resolves it)", inFlightPhrase(killed))
}
