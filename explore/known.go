package explore

import (
	"regexp"
	"slices"
	"strings"
)

// KnownIssue is a violation the pipeline has today: a limit of what the host
// can tell (or a bug awaiting its fix in pipeline/), found by the explorer.
// It is the one list of known issues: the depth-2 test fails on any
// violation no entry explains, a repro test fails once an entry's repro
// stops violating (remove the entry when its fix lands), and testscripts
// runs each entry's Scenario, which pins what the pipeline does there today.
//
// An entry explains a violation by the run's fault set and the invariant,
// never by the violation's text: another cause with the same message is not
// explained.
type KnownIssue struct {
	// Invariant is the invariant broken.
	Invariant string
	// Faults are the fault set the issue needs: each entry is a regexp that
	// one fault name of the run must match in full (alternatives with "|").
	Faults []string
	// Repro is the minimal fault set, fault names joined with "+" in
	// catalogue order.
	Repro string
	// Scenario names the scenario under testscripts/testdata that pins the
	// pipeline's behaviour in this case (without its .txtar).
	Scenario string
	// Why names the cause in pipeline/, or why it is a limit.
	Why string
}

// Known lists the open issues, most severe first.
var Known = []KnownIssue{
	{Invariant: "recovery-consistent",
		Faults:   []string{"lock=probe-error", "unit=collected-at-0", "kill=after-fire"},
		Repro:    "lock=probe-error+unit=collected-at-0+kill=after-fire",
		Scenario: "recover_limit-killed-firing-unit-collected-lock-unknown",
		Why:      "pipeline/recover.go wasFired(): a limit, not a slip: when the record stopped at \"firing\", the unit's status is gone (garbage-collected: this agent never passes --collect) and neither the link nor a readable switch lock shows a running switch, nothing on the host tells a fire from none, so recovery says abandoned; it takes three faults at once"},
	{Invariant: "recovery-consistent",
		Faults: []string{"journal=read-only-after-1", "unit=collected-at-(0|5s)",
			`end=(exit-\d+|signal-\d+)@1s|flip=(never|absent-60s|back-at-4s)|link=(missing@4s|previous@5s)`},
		Repro:    "unit=collected-at-0+flip=never+journal=read-only-after-1",
		Scenario: "recover_limit-read-only-record-unit-collected",
		Why:      "pipeline/recover.go wasFired(): a limit: the state directory turned read-only right after the \"firing\" write (an activation's first), so neither \"fired\" nor the clear reached the disk, and the run that did report its outcome leaves a record that reads like a kill while firing; with the unit's status gone, the lock free and current-system not on the closure (the switch ended without flipping it, flipped it back, or someone moved it) nothing on the host tells the fire from none, so recovery says abandoned and restores the profile, which is also what the failed run needed. Where the link shows the closure, that is evidence of the fire and recovery follows it (recover_read-only-record-link-shows-closure)"},
	{Invariant: "within-budget",
		Faults:   []string{"show=fails-from-5s", "between=clock-back-1h"},
		Repro:    "show=fails-from-5s+kill=at-3.5s+between=clock-back-1h",
		Scenario: "recover_limit-clock-back-status-unreadable",
		Why:      "pipeline/reboot.go resumeDeadline(): a design limit, not the unit read's back-off (each wait is cut to the deadline): after the wall clock stepped back the recorded fire time is in the future, and nothing the record holds tells how long ago the fire really was, so recovery waits at most one budget from its own start; with the unit's exit unreadable it waits all of it, ending past the fire's budget by as long as the agent was dead before recovery began. Telling the true elapsed time needs a reading that survives wall clock steps and is shared across processes of one boot (CLOCK_BOOTTIME, as /proc/uptime shows it) recorded at the fire and compared when the boot ID is unchanged: a new record field and a clock seam in the simulator"},
}

// explains reports whether the issue explains v, a violation of run r.
func (k KnownIssue) explains(r *Run, v Violation) bool {
	if v.Invariant != k.Invariant {
		return false
	}
	for _, f := range k.Faults {
		re := regexp.MustCompile("^(?:" + f + ")$")
		if !slices.ContainsFunc(r.Faults, func(g Fault) bool { return re.MatchString(g.Name) }) {
			return false
		}
	}
	return true
}

// KnownIssueOf returns the known issue that explains v, a violation of run
// r, nil when none does.
func KnownIssueOf(r *Run, v Violation) *KnownIssue {
	i := slices.IndexFunc(Known, func(k KnownIssue) bool { return k.explains(r, v) })
	if i < 0 {
		return nil
	}
	return &Known[i]
}

// Unknown returns the run's violations that no known issue explains.
func (r *Run) Unknown() []Violation {
	var out []Violation
	for _, v := range r.Violations {
		if KnownIssueOf(r, v) == nil {
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
