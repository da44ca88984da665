package explore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// TestExhaustiveDepth2 runs every combination of up to two faults against
// the real pipeline: every violation must be a known issue (Known), each
// printed with its minimal scenario otherwise.
func TestExhaustiveDepth2(t *testing.T) {
	if testing.Short() {
		t.Skip("depth 2 runs ~2,900 activations")
	}
	e := New(Config{Examples: 1 << 20})
	rep := e.Exhaustive(context.Background(), 2)
	t.Logf("depth 2: %d runs (per size %v) in %s; violating runs per invariant: %v", rep.Runs, rep.PerSize, rep.Elapsed, rep.Violating)
	require.Equal(t, e.Catalogue().Count(2), rep.PerSize, "every combination ran once")
	reported := map[string]bool{}
	for _, r := range rep.Examples {
		for _, v := range r.Unknown() {
			m := e.ShrinkViolation(r, v)
			if reported[v.Invariant+m.Names()] {
				continue
			}
			reported[v.Invariant+m.Names()] = true
			t.Errorf("run #%d [%s] broke %s\nminimal repro %s:\n%s\nhost:\n%s", r.Index, r.Names(), v, m.ScenarioName(), m.Scenario(), m.Summary)
		}
	}
}

// TestKnownIssuesStillReproduce pins each known issue to its minimal
// repro; when a fix lands this fails: remove the entry from Known.
func TestKnownIssuesStillReproduce(t *testing.T) {
	e := New(Config{})
	for _, k := range Known {
		t.Run(k.Repro+"/"+k.Invariant, func(t *testing.T) {
			combo := k.Combo(e.Catalogue())
			require.NotContains(t, combo, -1, "a repro names an unknown fault")
			r := e.Run(combo)
			i := slices.IndexFunc(r.Violations, func(v Violation) bool { return k.explains(r, v) })
			require.GreaterOrEqual(t, i, 0, "fixed? %s no longer breaks %s (violations %v): remove it from Known", k.Repro, k.Invariant, r.Violations)
			assert.Equal(t, r.Names(), e.ShrinkViolation(r, r.Violations[i]).Names(), "the repro is minimal")
		})
	}
}

func TestBaselineSettlesAndBreaksNothing(t *testing.T) {
	r := New(Config{}).Run(nil)
	assert.Empty(t, r.Violations)
	assert.Equal(t, pipeline.Settled, r.Outcome.Kind, r.Outcome.Reason)
	assert.Nil(t, r.Recovered, "a finished run leaves nothing to recover")
	assert.Equal(t, newSys, r.end.current)
	assert.Equal(t, newSys, r.end.profile)
	assert.Len(t, r.end.runs, 1)
}

func TestRollbackBaselineSucceeds(t *testing.T) {
	e := New(Config{})
	r := e.Run([]int{e.Catalogue().Index("op=rollback")})
	assert.Empty(t, r.Violations)
	assert.Equal(t, pipeline.RollbackSucceeded, r.Outcome.Kind, r.Outcome.Reason)
	assert.Equal(t, oldSys, r.end.current)
}

func TestRunsAreDeterministic(t *testing.T) {
	e := New(Config{})
	c := e.Catalogue()
	combo := []int{c.Index("end=exit-4@8s"), c.Index("link=previous@5s"), c.Index("kill=at-3.5s")}
	slices.Sort(combo)
	a, b := e.Run(combo), e.Run(combo)
	assert.Equal(t, outcomeJSON(t, a.Outcome), outcomeJSON(t, b.Outcome))
	assert.Equal(t, a.Recovered, b.Recovered)
	assert.Equal(t, a.agentCmds, b.agentCmds)
	assert.Equal(t, a.recoverCmds, b.recoverCmds)
	assert.Equal(t, a.Violations, b.Violations)
}

func outcomeJSON(t *testing.T, o pipeline.Outcome) string {
	data, err := json.Marshal(o)
	require.NoError(t, err)
	return string(data)
}

func TestEveryFaultChangesTheWorldOrTheAgent(t *testing.T) {
	c := NewCatalogue()
	names := map[string]bool{}
	for i, f := range c {
		assert.False(t, names[f.Name], "duplicate name %s", f.Name)
		names[f.Name] = true
		combo := []int{i}
		if f.requires != "" {
			combo = append(combo, c.groupIndex(f.requires))
		}
		if !f.Applies(OpActivate) && f.Group != groupOp {
			combo = append(combo, c.groupIndex(groupOp))
		}
		slices.Sort(combo)
		require.True(t, c.Valid(combo), f.Name)
		base := c.Spec(slices.DeleteFunc(slices.Clone(combo), func(j int) bool { return j == i }))
		assert.NotEqual(t, fmt.Sprintf("%+v", base), fmt.Sprintf("%+v", c.Spec(combo)), "%s changes nothing", f.Name)
	}
}

func TestValidCombinations(t *testing.T) {
	c := NewCatalogue()
	idx := func(names ...string) []int {
		var out []int
		for _, n := range names {
			require.GreaterOrEqual(t, c.Index(n), 0, n)
			out = append(out, c.Index(n))
		}
		slices.Sort(out)
		return out
	}
	assert.True(t, c.Valid(nil))
	assert.True(t, c.Valid(idx("lock=exclusive", "offer=unsigned", "kill=after-fire")))
	assert.False(t, c.Valid(idx("lock=exclusive", "lock=stale")), "one fault per group")
	assert.False(t, c.Valid(idx("op=rollback", "offer=unsigned")), "activate-only fault in a rollback")
	assert.False(t, c.Valid(idx("rollback=fails")), "rollback-only fault in an activation")
	assert.False(t, c.Valid(idx("boot=exit-1")), "a boot fault needs a deferral")
	assert.True(t, c.Valid(idx("components=kernel", "boot=exit-1")))
	assert.False(t, c.Valid([]int{3, 2}), "not ascending")
	assert.False(t, c.Valid([]int{len(c)}), "out of range")
}

func TestEnumerationOrderAndIndices(t *testing.T) {
	c := NewCatalogue()
	counts := c.Count(2)
	assert.Equal(t, 1, counts[0], "the baseline")
	var prev []int
	n := 0
	c.Enumerate(2, func(i int, combo []int) bool {
		require.Equal(t, n, i, "indices count valid combinations")
		require.True(t, c.Valid(combo))
		if prev != nil {
			require.True(t, len(prev) < len(combo) || (len(prev) == len(combo) && slices.Compare(prev, combo) < 0), "%v then %v", prev, combo)
		}
		prev = slices.Clone(combo)
		n++
		return true
	})
	assert.Equal(t, counts[0]+counts[1]+counts[2], n)
	at2 := c.At(2, 500)
	assert.Equal(t, at2, c.At(3, 500), "an index means the same combination at every depth")
	assert.Nil(t, c.At(1, 500), "no such index at depth 1")
}

func TestDrawIsSeededAndValid(t *testing.T) {
	c := NewCatalogue()
	for seed := uint64(0); seed < 300; seed++ {
		combo := c.Draw(seed, 6)
		require.True(t, c.Valid(combo), "seed %d: %v", seed, combo)
		require.LessOrEqual(t, len(combo), 6)
		require.Equal(t, combo, c.Draw(seed, 6), "seed %d replays", seed)
	}
}

func TestRandomReportsReplayBySeed(t *testing.T) {
	e := New(Config{Examples: 1 << 20})
	rep := e.Random(context.Background(), 1000, 40, 5)
	assert.Equal(t, 40, rep.Runs)
	again := e.Random(context.Background(), 1000, 40, 5)
	assert.Equal(t, rep.Violating, again.Violating, "a seed replays a whole session")
	for _, r := range rep.Examples {
		again := e.Random(context.Background(), r.Seed, 1, 5)
		require.Len(t, again.Examples, 1, "seed %d replays its violation", r.Seed)
		assert.Equal(t, r.Combo, again.Examples[0].Combo)
		assert.Equal(t, r.Violations, again.Examples[0].Violations)
	}
}

func TestKillBeforeFireIsRecoveredAsAbandoned(t *testing.T) {
	e := New(Config{})
	r := e.Run([]int{e.Catalogue().Index("kill=before-fire")})
	assert.Empty(t, r.Violations)
	assert.True(t, r.Killed)
	require.NotNil(t, r.Recovered)
	assert.Equal(t, pipeline.Abandoned, r.Recovered.Kind)
	assert.Empty(t, r.end.runs, "nothing fired")
	// Deliberate change (issue 9): recovery points the set profile back.
	require.NotNil(t, r.Recovered.Restored)
	assert.Equal(t, pipeline.RestoreDone, r.Recovered.Restored.Status)
	assert.Equal(t, oldSys, r.end.profile, "the profile set before the kill is restored")
}

func TestKillAfterFireIsFollowedWithoutFiringAgain(t *testing.T) {
	e := New(Config{})
	r := e.Run([]int{e.Catalogue().Index("kill=after-fire")})
	assert.Empty(t, r.Violations)
	require.NotNil(t, r.Recovered)
	assert.Equal(t, pipeline.Settled, r.Recovered.Kind, r.Recovered.Reason)
	assert.Len(t, r.end.runs, 1)
	for _, c := range r.recoverCmds {
		assert.NotEqual(t, "systemd-run", c.argv[0])
	}
}

func TestScenarioOfARun(t *testing.T) {
	e := New(Config{})
	c := e.Catalogue()
	combo := []int{c.Index("offer=rogue-key"), c.Index("kill=before-set")}
	slices.Sort(combo)
	s := e.Run(combo).Scenario()
	assert.True(t, strings.HasPrefix(s, "# Explorer repro [offer=rogue-key+kill=before-set] : no invariant broken.\n"), s)
	for _, line := range []string{"closure old valid", "closure new", "offer new file:///srv/cache signed-by=rogue",
		"running old", "kill-agent before nix-env --set", "activate new budget=20s"} {
		assert.Contains(t, s, line+"\n")
	}
}

func TestScenarioQuotesTextsAndSplicesAliases(t *testing.T) {
	q := quote("error: cannot add path '/nix/store/" + newSys + "' because")
	assert.Equal(t, `'error: cannot add path ''/nix/store/'$new''' because'`, q)
}

func TestNormalizeAlwaysGivesAValidCombination(t *testing.T) {
	c := NewCatalogue()
	wraps := len(c) + c.groupIndex(groupOp)
	got := c.Normalize([]int{158, 55, 48, 120, 65, 88, wraps}, 6)
	assert.True(t, c.Valid(got), "%v", got)
	assert.Contains(t, got, c.groupIndex(groupOp), "len(c)+op wraps to the op fault: a rollback")
	for seed := range 500 {
		in := []int{seed * 7, seed * 13, -seed, seed * 31, seed, seed * 3}
		require.True(t, c.Valid(c.Normalize(in, 4)), "%v", in)
	}
}

func TestObservationMatchesTheSimsOwnProfileReading(t *testing.T) {
	s := newSpec(OpRollback)
	h, err := s.build()
	require.NoError(t, err)
	o := observe(h)
	assert.Equal(t, h.ProfileTarget(), o.profile)
	assert.Equal(t, h.ProfileGeneration(), o.generation)
	assert.Equal(t, 2, o.generation)
}

func TestScenarioStatesEachCheckOnce(t *testing.T) {
	e := New(Config{})
	c := e.Catalogue()
	combo := []int{c.Index("op=rollback"), c.Index("profile=third@4s")}
	slices.Sort(combo)
	r := e.Run(combo)
	if len(r.invariantNames()) < 2 {
		t.Skip("the pipeline no longer breaks two invariants here")
	}
	assert.Equal(t, 1, strings.Count(r.Scenario(), "\n! outcome rollback-succeeded\n"), r.Scenario())
}
