package explore

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 17: a known issue explains a violation by the run's fault set and
// invariant, never by its message: the same text from a run without the
// issue's faults is unexplained, and the issue's own repro is explained.
func TestKnownIssuesMatchByFaultSetNotMessage(t *testing.T) {
	e := New(Config{})
	for _, k := range Known {
		t.Run(k.Repro, func(t *testing.T) {
			r := e.Run(k.Combo(e.Catalogue()))
			require.NotEmpty(t, r.Violations)
			v := r.Violations[0]
			assert.Same(t, &Known[indexOf(k)], KnownIssueOf(r, v))
			base := e.Run(nil)
			assert.Nil(t, KnownIssueOf(base, v), "the same message without the faults is no known issue")
			other := Violation{Invariant: "success-only-when-switched", Detail: v.Detail}
			assert.Nil(t, KnownIssueOf(r, other), "another invariant with the faults is no known issue")
		})
	}
}

func indexOf(k KnownIssue) int {
	for i := range Known {
		if Known[i].Repro == k.Repro {
			return i
		}
	}
	return -1
}

// The read-only record without a kill is its own limit, not the kill's:
// each needs its own faults.
func TestReadOnlyRecordIsItsOwnLimit(t *testing.T) {
	e := New(Config{})
	c := e.Catalogue()
	combo := []int{c.Index("unit=collected-at-0"), c.Index("end=exit-0@1s"), c.Index("journal=read-only-after-1")}
	slices.Sort(combo)
	r := e.Run(combo)
	require.True(t, r.Broke("recovery-consistent"))
	for _, v := range r.Violations {
		k := KnownIssueOf(r, v)
		require.NotNil(t, k, "%s", v)
		assert.Equal(t, "unit=collected-at-0+flip=never+journal=read-only-after-1", k.Repro)
	}
}
