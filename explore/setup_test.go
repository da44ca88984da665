package explore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
)

// buildUncached applies every step of s to a new host, as build did before
// set-ups were cached.
func buildUncached(s Spec) (*sim.Host, error) {
	b := &builder{closures: map[string]*sim.ClosureSpec{}}
	return b.h, apply(b, s.steps())
}

// TestSetUpCacheBuildsWhatTheStepsDo runs every combination of up to two
// faults (one in -short mode) on a host cloned from the set-up cache and
// on one built step by step: same outcomes, recoveries, command logs and
// end states. It fails if a set-up depends on something its scenario lines
// do not say (two set-ups would then share a cached host).
func TestSetUpCacheBuildsWhatTheStepsDo(t *testing.T) {
	depth := 2
	if testing.Short() {
		depth = 1
	}
	c := NewCatalogue()
	runs := 0
	c.Enumerate(depth, func(_ int, combo []int) bool {
		s := c.Spec(combo)
		cached := execute(s, nil)
		h, err := buildUncached(s)
		direct := executeOn(h, err, s, nil)
		require.NoError(t, cached.buildErr)
		require.NoError(t, direct.buildErr)
		names := direct.Names()
		assert.Equal(t, direct.Outcome, cached.Outcome, names)
		assert.Equal(t, direct.Recovered, cached.Recovered, names)
		assert.Equal(t, direct.host.Log(), cached.host.Log(), names)
		assert.Equal(t, direct.host.Summary(), cached.host.Summary(), names)
		runs++
		return !t.Failed()
	})
	t.Logf("%d combinations alike", runs)
}

// setupLines renders the set-up steps' scenario lines.
func setupLines(s Spec) string {
	var b strings.Builder
	for _, st := range s.setupSteps() {
		for _, line := range st.lines {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestSetUpKeySaysAllTheLinesSay checks, over every combination of up to
// two faults (one in -short mode), that specs with one set-up key render
// one set of set-up lines, and that the catalogue's faults give more than
// one key (so a key cut short would be seen).
func TestSetUpKeySaysAllTheLinesSay(t *testing.T) {
	depth := 2
	if testing.Short() {
		depth = 1
	}
	c := NewCatalogue()
	seen := map[setupKey]string{}
	c.Enumerate(depth, func(_ int, combo []int) bool {
		s := c.Spec(combo)
		lines := setupLines(s)
		if prev, ok := seen[s.setupKey()]; ok {
			require.Equal(t, prev, lines, "one key, two set-ups: %v", combo)
		}
		seen[s.setupKey()] = lines
		return true
	})
	distinct := map[string]bool{}
	for _, lines := range seen {
		distinct[lines] = true
	}
	t.Logf("%d set-up keys, %d distinct set-ups", len(seen), len(distinct))
	assert.Greater(t, len(distinct), 10)
}

func TestSetUpsAreSharedAndStayUnchanged(t *testing.T) {
	s := newSpec(OpActivate)
	first, err := s.build()
	require.NoError(t, err)
	before := first.Summary()
	r := executeOn(first, nil, s, nil)
	require.NotEqual(t, before, r.host.Summary(), "the run changed its host")
	second, err := s.build()
	require.NoError(t, err)
	assert.Equal(t, before, second.Summary(), "the next build starts from the unchanged set-up")
	assert.NotSame(t, first, second)
}
