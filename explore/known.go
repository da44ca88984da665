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
		"unit=collected-at-0+kill=after-fire",
		"pipeline/recover.go wasFired(): a unit whose status reads not-found (collected, or systemctl show failing) is taken as never started while its switch runs; current-system has not flipped yet when recovery starts"},
	{"profile-not-left-silently", regexp.MustCompile(`final outcome \S+( \(recovered\))? says generation [1-9][0-9]* and warns of nothing$`),
		"flip=never+profile=third@4s",
		"pipeline/activate.go activate() (and Recover, from the record): Generation is the one nix-env --set made; when the activation moved the profile (or self-correction made a newer generation) a failure outcome reports a stale generation"},
	{"success-only-when-switched", regexp.MustCompile(`rollback-succeeded with current-system \S+ and profile`),
		"op=rollback+profile=third@4s",
		"pipeline/rollback.go fireRollback(): follow() runs without selfCorrectProfile, so a rollback whose activation re-pointed the profile reports rollback-succeeded with the profile elsewhere"},
	{"profile-not-left-silently", regexp.MustCompile(`yet the final outcome is rollback-succeeded`),
		"op=rollback+profile=third@4s",
		"same cause as the entry above (rollback never mends the profile)"},
	{"success-only-when-switched", regexp.MustCompile(`\bsettled with current-system \S+ and profile`),
		"set=fails-from-1s+profile=old@4s",
		"pipeline/links.go selfCorrectProfile(): a failed re-pointing is only a warning and settledVerdict still says settled, with the profile on another closure"},
	{"profile-not-left-silently", regexp.MustCompile(`yet the final outcome is settled`),
		"set=fails-from-1s+profile=third@4s",
		"same cause as the entry above (failed self-correction reported as settled)"},
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
