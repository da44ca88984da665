package pipeline

import (
	"testing"
	"time"
)

// BenchmarkActivateHappyPath measures one activation against the in-memory
// fake host: validation, lock, realise, profile set, component comparison,
// fire, 5 polls and the unit wait.
func BenchmarkActivateHappyPath(b *testing.B) {
	t := &testing.T{}
	for b.Loop() {
		b.StopTimer()
		h := newFakeHost(t)
		b.StartTimer()
		if out := h.activate(newClosure); out.Kind != Settled {
			b.Fatalf("outcome %s: %s", out.Kind, out.Reason)
		}
	}
}

// BenchmarkActivateFullBudget measures an activation that spends the whole
// 300 s budget (150 polls) in virtual time: a switch that neither flips
// nor ends within it (one that ends is decided at once since issue 9).
func BenchmarkActivateFullBudget(b *testing.B) {
	t := &testing.T{}
	for b.Loop() {
		b.StopTimer()
		h := newFakeHost(t)
		h.plans[newClosure] = switchPlan{exitAt: time.Hour, exitCode: 1}
		b.StartTimer()
		if out := h.activate(newClosure); out.Phase != PhaseSwitchPollTimeout {
			b.Fatalf("outcome %s", out.Kind)
		}
	}
}
