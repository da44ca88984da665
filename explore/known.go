package explore

import (
	"regexp"
	"slices"
	"strings"
)

// KnownIssue is a violation the real pipeline has today, found by the
// explorer and reported for a fix in pipeline/. The depth-2 test fails on
// any violation no entry matches, and a repro test fails once an entry's
// repro stops violating: remove the entry when its fix lands (and keep its
// scenario under testscripts/).
type KnownIssue struct {
	// Invariant is the invariant broken; Detail matches the violation's
	// detail.
	Invariant string
	Detail    *regexp.Regexp
	// Repro is the minimal fault set, fault names joined with "+".
	Repro string
	// Why names the cause in pipeline/.
	Why string
}

// Known lists the open issues, most severe first.
var Known = []KnownIssue{
	{"recovery-consistent", regexp.MustCompile(`^recovered abandoned \("the agent stopped while firing; the unit never started.*, yet \S+ ran`),
		"lock=probe-error+unit=collected-at-0+kill=after-fire",
		"pipeline/recover.go wasFired(): a limit, not a slip: when the record stopped at \"firing\", the unit's status is gone (garbage-collected: this agent never passes --collect) and neither the link nor a readable switch lock shows a running switch, nothing on the host tells a fire from none, so recovery says abandoned; it takes three faults at once"},
}

// matches reports whether the issue explains v.
func (k KnownIssue) matches(v Violation) bool {
	return v.Invariant == k.Invariant && k.Detail.MatchString(v.Detail)
}

// KnownIssueOf returns the known issue that explains v, nil when none does.
func KnownIssueOf(v Violation) *KnownIssue {
	i := slices.IndexFunc(Known, func(k KnownIssue) bool { return k.matches(v) })
	if i < 0 {
		return nil
	}
	return &Known[i]
}

// Unknown returns the run's violations that no known issue explains.
func (r *Run) Unknown() []Violation {
	var out []Violation
	for _, v := range r.Violations {
		if KnownIssueOf(v) == nil {
			out = append(out, v)
		}
	}
	return out
}

// Combo returns the catalogue indices of the issue's repro.
func (k KnownIssue) Combo(c Catalogue) []int {
	var combo []int
	for _, name := range strings.Split(k.Repro, "+") {
		combo = append(combo, c.Index(name))
	}
	slices.Sort(combo)
	return combo
}
