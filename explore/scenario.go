package explore

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Scenario renders the run as a scenario of the testscripts language
// (testscripts/README.md): a first comment line saying what it pins, the
// world, the agent's run, a recovery when the agent was killed, and for each
// broken invariant the checks a fixed pipeline must pass. Every catalogue
// fault has a command (kill-agent before|after ... nth=N | at D, journal
// full|read-only after=N, at D fault|current|unit-collected); where a check
// cannot be said, a "# GAP:" comment names what is missing and the closest
// form follows. File name: ScenarioName.
func (r *Run) Scenario() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Explorer repro [%s] %s: %s.\n", r.Names(), strings.Join(r.invariantNames(), ", "), r.firstDetail())
	for _, st := range r.Spec.steps() {
		for _, l := range st.lines {
			b.WriteString(l + "\n")
		}
	}
	b.WriteString("\n")
	for _, l := range r.agentLines() {
		b.WriteString(l + "\n")
	}
	for _, l := range r.checkLines() {
		b.WriteString(l + "\n")
	}
	return b.String()
}

// ScenarioName is a file name for the scenario under testscripts/testdata:
// area "explore", then the faults.
func (r *Run) ScenarioName() string {
	name := strings.NewReplacer("=", "-", "@", "-at-", "+", "_", ".", "-").Replace(r.Names())
	return "explore_" + name + ".txtar"
}

func (r *Run) firstDetail() string {
	if len(r.Violations) == 0 {
		return "no invariant broken"
	}
	return readable(strings.ReplaceAll(r.Violations[0].Detail, "\n", " "))
}

// readable replaces the closures' store basenames with <alias>.
func readable(s string) string {
	for _, alias := range []string{aliasOld, aliasNew, aliasThird} {
		s = strings.ReplaceAll(s, basenameOf(alias), "<"+alias+">")
	}
	return s
}

// agentLines are the kill rule, the activate or rollback line, and after a
// kill the `recover` of the next invocation.
func (r *Run) agentLines() []string {
	var out []string
	run := "activate new"
	if r.Spec.Op == OpRollback {
		run = "rollback"
	}
	run += fmt.Sprintf(" budget=%s", PollBudget)
	if w := r.Spec.Health.ConfirmWithin; w > 0 {
		run += " confirm-within=" + w.String()
	}
	out = append(out, r.journalLines()...)
	if l := killLine(r.Spec.Kill); l != "" {
		out = append(out, l)
	}
	out = append(out, run)
	switch {
	case r.Killed:
		out = append(out, "stdout 'agent killed'")
	case r.Recovered != nil:
		out = append(out, "# observed: "+outcomeLine(r.Outcome))
	}
	if r.Killed || r.Recovered != nil {
		out = append(out, "")
		if r.Spec.Journal.Mode != "" {
			out = append(out, "journal writable")
		}
		if r.Killed {
			out = append(out, r.Spec.Between.lines()...)
		}
		out = append(out, "recover")
	}
	return out
}

// killLine is the `kill-agent` line of a kill ("" for none).
func killLine(k KillSpec) string {
	switch k.Mode {
	case KillNever:
		return ""
	case KillAt:
		return fmt.Sprintf("kill-agent at %s", k.At)
	}
	line := strings.TrimSpace(fmt.Sprintf("kill-agent %s %s %s", k.Mode, k.Program, strings.Join(k.Words, " ")))
	if k.Nth > 1 {
		line += fmt.Sprintf(" nth=%d", k.Nth)
	}
	return line
}

// journalLines put the state directory in the fault's state for the agent.
func (r *Run) journalLines() []string {
	j := r.Spec.Journal
	if j.Mode == "" {
		return nil
	}
	return []string{"journal " + j.Mode + optInt("after", j.After)}
}

// checkLines are the observed outcome (as a comment) and, per broken
// invariant, what a fixed pipeline must show: each fails on the run as it
// is. Where the language cannot say it, a "# GAP:" line says what is
// missing and the closest form follows.
func (r *Run) checkLines() []string {
	last := r.last()
	var out []string
	if last != nil {
		out = append(out, "# observed: "+outcomeLine(*last))
	}
	for _, name := range r.invariantNames() {
		checks := r.checksFor(name, last)
		if !allPresent(out, checks) {
			out = append(out, checks...)
		}
	}
	return out
}

// allPresent reports whether every check line (comments aside) is in out
// already: two invariants may demand the same thing of a run.
func allPresent(out, checks []string) bool {
	for _, c := range checks {
		if !strings.HasPrefix(c, "#") && !slices.Contains(out, c) {
			return false
		}
	}
	return true
}

// last is the outcome the scenario's last agent command prints.
func (r *Run) last() *pipeline.Outcome {
	if r.Recovered != nil {
		return r.Recovered
	}
	return r.final()
}

// outcomeLine renders an outcome as an `outcome` line of its key fields.
func outcomeLine(o pipeline.Outcome) string {
	line := "outcome " + string(o.Kind) + opt("phase", string(o.Phase))
	if o.ExitCode != nil {
		line += " exit_code=" + exitText(o.ExitCode)
	}
	if o.Switch != nil {
		line += " switch.exit_code=" + exitText(o.Switch.ExitCode)
	}
	line += opt("failure", string(o.Failure))
	if o.Command != nil {
		line += fmt.Sprintf(" command.exit_code=%s command.retryable=%t", exitText(o.Command.ExitCode), o.Command.Retryable)
	}
	if o.Generation != 0 {
		line += fmt.Sprintf(" generation=%d", o.Generation)
	}
	return line
}

// negatedOutcome is `! outcome KIND`, which the language refuses today.
func negatedOutcome(kind pipeline.Kind) []string {
	return []string{"# GAP: `outcome` refuses `!`; once fixed, replace the next line with the fixed outcome (`outcome KIND ...`).",
		"! outcome " + string(kind)}
}

// checksFor is what the invariant demands of this run, in the language.
func (r *Run) checksFor(invariant string, last *pipeline.Outcome) []string {
	start := fmt.Sprintf("profile-is %s gen=%d", linkAlias(r.start.profile), r.start.generation)
	switch invariant {
	case "no-effect-after-failed-realise", "nothing-changed-when-refused":
		return []string{"! ran-switch-of " + r.Spec.target(), start}
	case "trust-classified":
		return []string{"outcome signature-mismatch phase=realise failure=untrusted"}
	case "exit-status-truthful":
		return r.exitChecks(last)
	case "within-budget":
		return []string{fmt.Sprintf("elapsed 0s..%s", r.budgetLimit())}
	case "journal-cleared":
		return []string{"recover", "stdout 'no unfinished run'"}
	case "profile-not-left-silently":
		return r.profileChecks(last)
	case "recovery-consistent":
		return r.recoveryChecks()
	case "nothing-fired-twice":
		// A restore's boot action (nixfleet-activate-restore) is no second fire.
		return []string{"commands last", "! stdout 'systemd-run --unit=nixfleet-activate-(switch|rollback) '"}
	}
	if last != nil && (invariant == "success-only-when-switched") {
		return negatedOutcome(last.Kind)
	}
	return []string{fmt.Sprintf("# GAP: no command checks %s (%s).", invariant, invariantDoc(invariant))}
}

// profileChecks: the final outcome must say where the profile is.
func (r *Run) profileChecks(last *pipeline.Outcome) []string {
	switch {
	case last == nil:
		return []string{"! stdout 'no unfinished run'"}
	case slices.Contains(successes, last.Kind):
		return negatedOutcome(last.Kind)
	}
	return []string{fmt.Sprintf("outcome %s generation=%d", last.Kind, r.end.generation)}
}

// recoveryChecks: a change is recovered, and abandoned only when nothing
// was fired.
func (r *Run) recoveryChecks() []string {
	rec := r.Recovered
	switch {
	case rec == nil:
		return []string{"! stdout 'no unfinished run'"}
	case rec.Kind == pipeline.Abandoned && len(r.end.runs) > 0:
		return append([]string{"ran-switch-of " + r.Spec.target()}, negatedOutcome(pipeline.Abandoned)...)
	case rec.Kind == pipeline.Abandoned:
		return []string{fmt.Sprintf("outcome abandoned generation=%d", r.end.generation)}
	}
	return append([]string{"! ran-switch-of " + r.Spec.target()}, negatedOutcome(rec.Kind)...)
}

// exitChecks pin the switch report to the unit's true end.
func (r *Run) exitChecks(last *pipeline.Outcome) []string {
	if last == nil {
		return nil
	}
	ur := r.unitRun(r.end)
	switch {
	case ur == nil || !ur.Exited:
		return []string{fmt.Sprintf("outcome %s switch.exit_code=null", last.Kind)}
	case ur.ExecMainCode == sim.CodeExited:
		return []string{fmt.Sprintf("outcome %s switch.exit_code=%d", last.Kind, ur.ExecMainStatus)}
	}
	return []string{fmt.Sprintf("outcome %s switch.exit_code=null switch.signal=%d", last.Kind, ur.ExecMainStatus)}
}

// budgetLimit is the latest virtual time the scenario's last agent command
// may end (the within-budget invariant's limit).
func (r *Run) budgetLimit() string {
	outs := r.outcomes()
	if len(outs) == 0 {
		return (PollBudget + PollInterval).String()
	}
	return r.limit(outs[len(outs)-1]).String()
}

func linkAlias(basename string) string {
	if basename == "" {
		return "missing"
	}
	return short(basename)
}

func invariantDoc(name string) string {
	for _, inv := range invariants {
		if inv.Name == name {
			return inv.Doc
		}
	}
	return ""
}

// lines are the scenario commands of what happens between the runs.
func (b BetweenSpec) lines() []string {
	var out []string
	if b.ClockStep != 0 {
		out = append(out, fmt.Sprintf("clock-step %s", b.ClockStep))
	}
	switch {
	case b.Reboot && b.RebootInto != "":
		out = append(out, "reboot into="+b.RebootInto)
	case b.Reboot:
		out = append(out, "reboot")
	}
	return out
}
