package explore

import (
	"testing"
)

// FuzzFaultCombinations runs the fault combination the input bytes name
// (one catalogue index per byte, see Catalogue.Normalize, at most 6 faults)
// and fails on a violation no known issue explains, printing the minimal
// scenario. Plain `go test` runs the seed corpus: the baseline, each known
// issue's repro and a few deep mixes.
//
//	go test -run '^$' -fuzz FuzzFaultCombinations ./explore
func FuzzFaultCombinations(f *testing.F) {
	e := New(Config{Workers: 1})
	c := e.Catalogue()
	f.Add([]byte{})
	for _, k := range Known {
		f.Add(bytesOf(k.Combo(c)))
	}
	for _, names := range [][]string{
		{"op=rollback", "lock=probe-error", "end=signal-9@8s", "kill=at-5s", "journal=clear-fails"},
		{"nix=2.3", "offer=rogue-key", "cache=unreachable", "kill=after-realise"},
		{"components=kernel", "boot=never-ends", "show=fails-from-5s", "kill=at-12s"},
		{"flip=late-19s", "end=exit-4@25s", "profile=generation-1@4s", "unit=collected-at-5s"},
	} {
		var combo []int
		for _, n := range names {
			combo = append(combo, c.Index(n))
		}
		f.Add(bytesOf(combo))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		indices := make([]int, len(data))
		for i, b := range data {
			indices[i] = int(b)
		}
		combo := c.Normalize(indices, 6)
		if !c.Valid(combo) {
			t.Fatalf("Normalize(%v) = %v is not a valid combination", data, combo)
		}
		r := e.Run(combo)
		for _, v := range r.Unknown() {
			m := e.ShrinkViolation(r, v)
			t.Fatalf("[%s] broke %s\nminimal repro %s:\n%s\nhost:\n%s", r.Names(), v, m.ScenarioName(), m.Scenario(), m.Summary)
		}
	})
}

func bytesOf(combo []int) []byte {
	out := make([]byte, len(combo))
	for i, idx := range combo {
		out[i] = byte(idx)
	}
	return out
}
