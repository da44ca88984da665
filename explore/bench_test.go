package explore

import (
	"testing"
)

// BenchmarkActivations runs every depth-1 combination in turn on one
// goroutine (host construction, the agent's run, the next invocation's
// recovery, the invariants) and reports simulated activations per second
// of wall time. Run with -cpu 1. The goal is >= 10,000.
func BenchmarkActivations(b *testing.B) {
	e := New(Config{Workers: 1})
	var combos [][]int
	e.Catalogue().Enumerate(1, func(_ int, c []int) bool {
		combos = append(combos, append([]int(nil), c...))
		return true
	})
	i := 0
	for b.Loop() {
		e.Run(combos[i%len(combos)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "activations/s")
}

// BenchmarkBaselineActivation is the baseline run alone: the cost floor of
// one simulated activation with its recovery and checks.
func BenchmarkBaselineActivation(b *testing.B) {
	e := New(Config{Workers: 1})
	for b.Loop() {
		e.Run(nil)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "activations/s")
}

// BenchmarkHostConstruction is the world's set-up alone (sim.NewHost, the
// closures, the profile and the links).
func BenchmarkHostConstruction(b *testing.B) {
	s := newSpec(OpActivate)
	for b.Loop() {
		if _, err := s.build(); err != nil {
			b.Fatal(err)
		}
	}
}
