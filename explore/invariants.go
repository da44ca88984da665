package explore

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nixfleet/nixfleet-activate/backends/sim"
	"github.com/nixfleet/nixfleet-activate/pipeline"
)

// Invariant is a property every run must have.
type Invariant struct {
	// Name identifies it in reports and scenarios.
	Name string
	// Doc says what it demands.
	Doc string
	// check returns one detail per violation (none: it holds).
	check func(r *Run) []string
}

// Violation is one broken invariant of a run.
type Violation struct {
	Invariant string
	Detail    string
}

func (v Violation) String() string { return v.Invariant + ": " + v.Detail }

// Invariants lists every invariant, in the order they are checked.
func Invariants() []Invariant { return slices.Clone(invariants) }

var invariants = []Invariant{
	{"no-effect-after-failed-realise", "after nix-store --realise failed (or printed another path), no nix-env --set, no systemd-run, and the profile is unchanged", checkNoEffectAfterFailedRealise},
	{"nothing-changed-when-refused", "skipped, invalid-input, realise-failed, signature-mismatch and invalid-closure leave the profile as it was and start no unit", checkNothingChangedWhenRefused},
	{"trust-classified", "a realise whose stderr has the host Nix's untrusted-substitute or lacks-signature text ends in signature-mismatch, and signature-mismatch only then", checkTrustClassified},
	{"cache-failure-typed", "a realise that fails on a substituter answering HTTP 401/403 is unauthorized, on HTTP 5xx unreachable, neither ever not-found; a closure without switch-to-configuration moves no profile and starts no unit", checkCacheFailureTyped},
	{"success-only-when-switched", "settled and rollback-succeeded only when current-system and the profile are the expected closure; the degraded kinds only when current-system is", checkSuccessOnlyWhenSwitched},
	{"exit-status-truthful", "a reported exit status or signal is the unit's true one (or null); an outcome's exit_code is its switch report's (never a command's); a command report's status is a command's the invocation ran, retryable as its failure kind says", checkExitStatusTruthful},
	{"profile-not-left-silently", "the profile never ends on a closure that is not running unless the final outcome is a failure that says where the profile is (generation) or warns about it", checkProfileNotLeftSilently},
	{"recovery-consistent", "after a kill, a changed host is always recovered; a recovered outcome agrees with the host: abandoned only when nothing was fired, with the profile's generation, a switch verdict only when a unit ran", checkRecoveryConsistent},
	{"nothing-fired-twice", "at most one unit start over the run and its recovery; recovery fires nothing and rolls nothing back", checkNothingFiredTwice},
	{"outcome-valid-json", "every outcome marshals to a JSON object with a known kind, a phase from pipeline.Phases (required for failures), exit_code null or an integer, elapsed_ms >= 0", checkOutcomeValidJSON},
	{"within-budget", "each invocation ends within the poll budget plus one interval of virtual time after its fire (or after its start when nothing was fired)", checkWithinBudget},
	{"no-command-after-outcome", "no invocation issues a command after it returned its outcome (the host runs on for a budget and an interval to let stragglers show)", checkNoCommandAfterOutcome},
	{"journal-cleared", "no in-flight record is left once an invocation has reported a final (not interrupted) outcome", checkJournalCleared},
	{"ended-decided-promptly", "an invocation whose switch unit ended reports within one poll interval of the end (or of its own start, when the unit ended before it), unless a status read failed after the end", checkEndedDecidedPromptly},
	{"failed-run-restores-profile", "a failed final outcome (switch-failed, rollback-failed, verify-mismatch, skipped, abandoned) with current-system still where the run found it leaves the profile on its starting generation, unless the outcome's restore says it was not attempted (the unit may still run) or failed (a nix-env --switch-generation failed), with a warning", checkFailedRunRestoresProfile},
	{"already-current-changes-nothing", "already-current sets nothing, fires nothing and leaves the profile as it was", checkAlreadyCurrentChangesNothing},
	{"unhealthy-never-settled", "an activation whose closure is unhealthy (a failing, hanging or killed check, a confirmation that never came) never ends settled or settled-degraded; rolled-back only when current-system is the previous closure again", checkUnhealthyNeverSettled},
}

// check runs every invariant on r.
func (r *Run) check() {
	if r.buildErr != nil {
		r.Violations = []Violation{{"world", r.buildErr.Error()}}
		return
	}
	for _, inv := range invariants {
		for _, d := range inv.check(r) {
			r.Violations = append(r.Violations, Violation{inv.Name, readable(d)})
		}
	}
}

// realiseCmd returns the agent's nix-store --realise, nil when it ran none.
func (r *Run) realiseCmd() *command {
	for i, c := range r.agentCmds {
		if isCmd(c.argv, "nix-store", "--realise") {
			return &r.agentCmds[i]
		}
	}
	return nil
}

func isCmd(argv []string, program string, words ...string) bool {
	return sim.Cmd(program, words...)(argv)
}

// changers are the commands that change the host.
func changes(argv []string) bool {
	return isCmd(argv, "nix-env", "--set") || isCmd(argv, "nix-env", "--rollback") ||
		isCmd(argv, "nix-env", "--switch-generation") || isCmd(argv, "systemd-run")
}

func checkNoEffectAfterFailedRealise(r *Run) []string {
	c := r.realiseCmd()
	if c == nil || c.killed {
		return nil
	}
	want := sim.StoreDir + "/" + newSys
	failed := c.exit != 0 || c.realised != want
	if !failed {
		return nil
	}
	var out []string
	for _, later := range append(slices.Clone(r.agentCmds), r.recoverCmds...) {
		if later.exit == 0 && changes(later.argv) {
			out = append(out, fmt.Sprintf("realise exited %d realising %q, then %s ran", c.exit, c.realised, strings.Join(later.argv[:2], " ")))
		}
	}
	if r.agentEnd.profile != r.start.profile || r.agentEnd.generation != r.start.generation {
		out = append(out, fmt.Sprintf("realise failed, yet the profile moved from %s (gen %d) to %s (gen %d)",
			short(r.start.profile), r.start.generation, short(r.agentEnd.profile), r.agentEnd.generation))
	}
	return out
}

func checkCacheFailureTyped(r *Run) []string {
	if r.Killed || r.Outcome.Kind == pipeline.Interrupted {
		return nil
	}
	want := pipeline.RealiseFailure("")
	switch status := max(r.Spec.Offer.NarinfoHTTP, r.Spec.Offer.NarHTTP); {
	case status == 401 || status == 403:
		want = pipeline.RealiseUnauthorized
	case status >= 500:
		want = pipeline.RealiseUnreachable
	}
	var out []string
	// Only where nix-store printed the cache's own texts (no fault replaced them).
	// An unreachable cache wins (retryable; the refusal shows once it is back).
	emulated := !r.Spec.Unreachable && !slices.ContainsFunc(r.Spec.Faults, func(f CommandFault) bool { return f.Program == "nix-store" })
	if want != "" && emulated && r.Outcome.Kind == pipeline.RealiseFailed && r.Outcome.Failure != want {
		out = append(out, fmt.Sprintf("the cache answered HTTP %d, yet failure %s", max(r.Spec.Offer.NarinfoHTTP, r.Spec.Offer.NarHTTP), r.Outcome.Failure))
	}
	if r.Spec.NoSwitch && (len(r.agentEnd.runs) > 0 || r.agentEnd.generation != r.start.generation) {
		out = append(out, fmt.Sprintf("new has no switch-to-configuration, yet %d unit(s) ran and the profile is at generation %d (was %d)",
			len(r.agentEnd.runs), r.agentEnd.generation, r.start.generation))
	}
	return out
}

// refusals are the kinds that say nothing was changed.
var refusals = []pipeline.Kind{pipeline.Skipped, pipeline.InvalidInput, pipeline.RealiseFailed, pipeline.SignatureMismatch,
	pipeline.InvalidClosure}

func checkNothingChangedWhenRefused(r *Run) []string {
	var out []string
	if !r.Killed && slices.Contains(refusals, r.Outcome.Kind) {
		if r.agentEnd.profile != r.start.profile || r.agentEnd.generation != r.start.generation {
			out = append(out, fmt.Sprintf("%s, yet the profile moved to %s (gen %d)", r.Outcome.Kind, short(r.agentEnd.profile), r.agentEnd.generation))
		}
		if n := len(r.agentEnd.runs); n > 0 {
			out = append(out, fmt.Sprintf("%s, yet %d unit(s) ran", r.Outcome.Kind, n))
		}
	}
	return out
}

// untrustedTexts are the host Nix's texts for a refused signature.
func (r *Run) untrustedTexts() []string {
	p, err := sim.NixPhrasing(orDefault(r.Spec.NixVersion, sim.DefaultNixVersion))
	if err != nil {
		return nil
	}
	path := sim.StoreDir + "/" + newSys
	return []string{p.UntrustedSubstitute(path, cacheURL), p.LacksSignature(path)}
}

func checkTrustClassified(r *Run) []string {
	c := r.realiseCmd()
	if c == nil || c.killed || r.Killed || r.Outcome.Kind == pipeline.Interrupted {
		return nil
	}
	untrusted := false
	for _, t := range r.untrustedTexts() {
		untrusted = untrusted || strings.Contains(c.stderr, t)
	}
	got := r.Outcome.Kind == pipeline.SignatureMismatch
	switch {
	case c.exit != 0 && untrusted && !got:
		return []string{fmt.Sprintf("realise refused the signature (Nix %s text), outcome %s", orDefault(r.Spec.NixVersion, "2.8"), r.Outcome.Kind)}
	case got && !untrusted:
		return []string{"signature-mismatch, but realise's stderr has no untrusted-signature text"}
	}
	return nil
}

// reported is one outcome with the host as it was when it was reported.
type reported struct {
	name string // "agent" or "recovery"
	out  *pipeline.Outcome
	obs  observation
	cmds []command
	// start is when the invocation began.
	start time.Duration
}

// outcomes lists the run's reported outcomes: the agent's (unless it was
// killed: a dead process reports nothing), and the recovered one.
func (r *Run) outcomes() []reported {
	var out []reported
	if !r.Killed {
		out = append(out, reported{name: "agent", out: &r.Outcome, obs: r.agentEnd, cmds: r.agentCmds})
	}
	if r.Recovered != nil {
		out = append(out, reported{name: "recovery", out: r.Recovered, obs: r.end, cmds: r.recoverCmds, start: r.recoverStart})
	}
	return out
}

func checkSuccessOnlyWhenSwitched(r *Run) []string {
	var out []string
	want := r.expected()
	for _, o := range r.outcomes() {
		switch o.out.Kind {
		case pipeline.Settled, pipeline.RollbackSucceeded:
			if o.obs.current != want || o.obs.profile != want {
				out = append(out, fmt.Sprintf("%s %s with current-system %s and profile %s, want %s", o.name, o.out.Kind,
					short(o.obs.current), short(o.obs.profile), short(want)))
			}
		case pipeline.SettledDegraded, pipeline.RollbackDegraded:
			if o.obs.current != want {
				out = append(out, fmt.Sprintf("%s %s with current-system %s, want %s", o.name, o.out.Kind, short(o.obs.current), short(want)))
			}
		}
	}
	return out
}

// unitRun returns the last start of the run's unit seen in obs.
func (r *Run) unitRun(obs observation) *sim.UnitRun {
	name := r.Spec.unit() + ".service"
	for i := len(obs.runs) - 1; i >= 0; i-- {
		if obs.runs[i].Unit == name {
			return &obs.runs[i]
		}
	}
	return nil
}

func checkExitStatusTruthful(r *Run) []string {
	var out []string
	for _, o := range r.outcomes() {
		if o.name == "recovery" && o.out.Restored != nil {
			// A recovered restore re-reports the earlier run's failure, whose
			// command ran in that run.
			o.cmds = append(slices.Clone(r.agentCmds), o.cmds...)
		}
		out = append(out, r.switchReportTruthful(o)...)
		if d := outcomeExitMatches(o); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// switchReportTruthful compares a switch report with the unit's true end.
func (r *Run) switchReportTruthful(o reported) []string {
	sw := o.out.Switch
	if sw == nil {
		return nil
	}
	ur := r.unitRun(o.obs)
	var out []string
	if sw.ExitCode != nil && sw.ExitCode.Known {
		if ur == nil || !ur.Exited || ur.ExecMainCode != sim.CodeExited || ur.ExecMainStatus != sw.ExitCode.Code {
			out = append(out, fmt.Sprintf("%s reports switch.exit_code %d, the unit's true end is %s", o.name, sw.ExitCode.Code, trueEnd(ur)))
		}
	}
	if sw.Signal != nil {
		if ur == nil || !ur.Exited || ur.ExecMainCode == sim.CodeExited || ur.ExecMainStatus != *sw.Signal {
			out = append(out, fmt.Sprintf("%s reports switch.signal %d, the unit's true end is %s", o.name, *sw.Signal, trueEnd(ur)))
		}
	}
	return out
}

// outcomeExitMatches: an outcome's own exit_code is switch-to-configuration's
// only, its switch report's; a failed command's status is in command, and
// is that of a command the invocation ran, whose retryable follows the
// realise failure's kind.
func outcomeExitMatches(o reported) string {
	if ec := o.out.ExitCode; ec != nil && ec.Known {
		sw := o.out.Switch
		if sw == nil {
			return fmt.Sprintf("%s exit_code %d without a switch report: exit_code is the switch's status only", o.name, ec.Code)
		}
		if sw.ExitCode == nil || !sw.ExitCode.Known || sw.ExitCode.Code != ec.Code {
			return fmt.Sprintf("%s exit_code %d differs from its switch report's %s", o.name, ec.Code, exitText(sw.ExitCode))
		}
	}
	return commandMatches(o)
}

// commandMatches checks an outcome's command report against the commands
// its invocation ran.
func commandMatches(o reported) string {
	c := o.out.Command
	if c == nil {
		return ""
	}
	if o.out.Failure != "" && c.Retryable != o.out.Failure.Retryable() {
		return fmt.Sprintf("%s failure %s with command.retryable %t", o.name, o.out.Failure, c.Retryable)
	}
	if c.ExitCode == nil || !c.ExitCode.Known {
		return ""
	}
	for _, ran := range o.cmds {
		if ran.exit == c.ExitCode.Code && ran.exit != 0 && pipeline.CommandName(ran.argv) != "" {
			return ""
		}
	}
	return fmt.Sprintf("%s command %s exit_code %d, but no command of that invocation exited so", o.name, c.Name, c.ExitCode.Code)
}

func trueEnd(ur *sim.UnitRun) string {
	switch {
	case ur == nil:
		return "never started"
	case !ur.Exited:
		return "still running"
	case ur.ExecMainCode == sim.CodeExited:
		return fmt.Sprintf("exit %d", ur.ExecMainStatus)
	}
	return fmt.Sprintf("signal %d", ur.ExecMainStatus)
}

func exitText(e *pipeline.ExitStatus) string {
	if e == nil || !e.Known {
		return "null"
	}
	return fmt.Sprint(e.Code)
}

// successes are the kinds that claim the closure is running.
var successes = []pipeline.Kind{pipeline.Settled, pipeline.RollbackSucceeded}

func checkProfileNotLeftSilently(r *Run) []string {
	end := r.end
	if end.profile == r.start.profile || end.profile == end.current {
		return nil
	}
	where := fmt.Sprintf("the profile ends on %s (gen %d) while current-system is %s", short(end.profile), end.generation, short(end.current))
	f := r.final()
	if f == nil {
		return []string{where + ", and no final outcome says so (agent interrupted, nothing recovered)"}
	}
	kind := string(f.Kind)
	if f.Recovered {
		kind += " (recovered)"
	}
	switch {
	case slices.Contains(successes, f.Kind):
		return []string{fmt.Sprintf("%s, yet the final outcome is %s", where, kind)}
	case f.Generation != end.generation && !mentionsProfile(f.Warnings):
		return []string{fmt.Sprintf("%s; the final outcome %s says generation %d and warns of nothing", where, kind, f.Generation)}
	}
	return nil
}

func mentionsProfile(warnings []string) bool {
	for _, w := range warnings {
		if strings.Contains(w, string(pipeline.PhaseProfileCorrect)) || strings.Contains(w, "profile") {
			return true
		}
	}
	return false
}

// verdicts are the recovered kinds that report on a unit's run.
var verdicts = []pipeline.Kind{pipeline.Settled, pipeline.SettledDegraded, pipeline.VerifyMismatch,
	pipeline.DeferredPendingReboot, pipeline.RollbackSucceeded, pipeline.RollbackDegraded}

func checkRecoveryConsistent(r *Run) []string {
	var out []string
	changed := r.agentEnd.profile != r.start.profile || r.agentEnd.generation != r.start.generation || len(r.agentEnd.runs) > 0
	if r.Killed && changed && r.Recovered == nil {
		out = append(out, fmt.Sprintf("killed at +%s after changing the host (profile gen %d -> %d, %d unit start(s)), but the next invocation recovered nothing (err %v)",
			r.KilledAt, r.start.generation, r.agentEnd.generation, len(r.agentEnd.runs), r.RecoverErr))
	}
	rec := r.Recovered
	if rec == nil {
		return out
	}
	fired := slices.ContainsFunc(r.end.runs, executed)
	switch {
	case rec.Kind == pipeline.Abandoned && fired:
		out = append(out, fmt.Sprintf("recovered abandoned (%q), yet %s ran %s's switch-to-configuration",
			rec.Reason, r.end.runs[0].Unit, short(r.end.runs[0].Closure)))
	case rec.Kind == pipeline.Abandoned && rec.Generation != r.end.generation:
		out = append(out, fmt.Sprintf("recovered abandoned with generation %d, the profile is at %d", rec.Generation, r.end.generation))
	case slices.Contains(verdicts, rec.Kind) && !fired:
		out = append(out, fmt.Sprintf("recovered %s, but no unit ever ran", rec.Kind))
	}
	return out
}

// executed reports whether a unit's program actually ran (not an exec
// setup failure such as 203).
func executed(u sim.UnitRun) bool {
	return !(u.Exited && u.ExecMainCode == 1 && pipeline.ExecSetupFailed(u.ExecMainStatus))
}

// restoreService is the restore unit's full name.
const restoreService = pipeline.DefaultRestoreUnit + ".service"

// switchStarts counts the unit starts that are not a restore's boot action.
func switchStarts(runs []sim.UnitRun, healthRollback bool) int {
	n := 0
	for _, u := range runs {
		if u.Unit != restoreService && !healthUnit(u.Unit, healthRollback) { // issue 18: checks, an unhealthy closure's rollback
			n++
		}
	}
	return n
}

func checkNothingFiredTwice(r *Run) []string {
	var out []string
	if n := switchStarts(r.end.runs, r.healthRolledBack()); n > 1 {
		out = append(out, fmt.Sprintf("%d unit starts over the run and its recovery", n))
	}
	for _, c := range r.recoverCmds {
		restoreFire := isCmd(c.argv, "systemd-run", "--unit="+pipeline.DefaultRestoreUnit) || healthFire(c.argv, r.healthRolledBack())
		if c.exit == 0 && ((isCmd(c.argv, "systemd-run") && !restoreFire) || isCmd(c.argv, "nix-env", "--rollback")) {
			out = append(out, "recovery ran "+strings.Join(c.argv[:2], " "))
		}
	}
	return out
}

// restorableFailures are the final kinds after which the profile must be
// back where the run found it (when current-system still is).
var restorableFailures = []pipeline.Kind{pipeline.SwitchFailed, pipeline.RollbackFailed, pipeline.VerifyMismatch,
	pipeline.Skipped, pipeline.Abandoned}

func checkFailedRunRestoresProfile(r *Run) []string {
	f := r.final()
	if f == nil || !slices.Contains(restorableFailures, f.Kind) || r.end.current != r.start.current {
		return nil
	}
	if r.end.profile == r.start.profile && r.end.generation == r.start.generation {
		return nil
	}
	res := f.Restored
	switch {
	case res != nil && res.Status == pipeline.RestoreNotAttempted && len(f.Warnings) > 0:
		return nil
	case res != nil && res.Status == pipeline.RestoreFailed && len(f.Warnings) > 0 && r.switchGenerationFailed():
		return nil
	}
	return []string{fmt.Sprintf("final %s leaves the profile on %s (gen %d), it started on %s (gen %d); restore %s",
		f.Kind, short(r.end.profile), r.end.generation, short(r.start.profile), r.start.generation, restoreText(f.Restored))}
}

// switchGenerationFailed reports whether a nix-env --switch-generation of
// the run or its recovery failed: only then may a restore say "failed".
func (r *Run) switchGenerationFailed() bool {
	for _, c := range append(slices.Clone(r.agentCmds), r.recoverCmds...) {
		if isCmd(c.argv, "nix-env", "--switch-generation") && (c.exit != 0 || c.killed) {
			return true
		}
	}
	return false
}

func restoreText(res *pipeline.Restore) string {
	if res == nil {
		return "none"
	}
	return string(res.Status) + " (" + res.Reason + ")"
}

func checkAlreadyCurrentChangesNothing(r *Run) []string {
	var out []string
	for _, o := range r.outcomes() {
		if o.out.Kind != pipeline.AlreadyCurrent {
			continue
		}
		for _, c := range o.cmds {
			if changes(c.argv) {
				out = append(out, fmt.Sprintf("%s already-current, yet it ran %s", o.name, strings.Join(c.argv[:2], " ")))
			}
		}
		if o.obs.profile != r.start.profile || o.obs.generation != r.start.generation {
			out = append(out, fmt.Sprintf("%s already-current, yet the profile moved to %s (gen %d)", o.name, short(o.obs.profile), o.obs.generation))
		}
	}
	return out
}

// failureKinds need a phase saying where they were decided.
var failureKinds = []pipeline.Kind{pipeline.Skipped, pipeline.InvalidInput, pipeline.RealiseFailed, pipeline.SignatureMismatch,
	pipeline.InvalidClosure,
	pipeline.SwitchFailed, pipeline.VerifyMismatch, pipeline.DeferredPendingReboot, pipeline.RollbackFailed,
	pipeline.Abandoned, pipeline.Interrupted, pipeline.BadEnvironment, pipeline.RolledBack}

var allKinds = append([]pipeline.Kind{pipeline.Settled, pipeline.SettledDegraded, pipeline.RollbackSucceeded,
	pipeline.RollbackDegraded, pipeline.AlreadyCurrent}, failureKinds...)

func checkOutcomeValidJSON(r *Run) []string {
	var out []string
	for _, o := range r.outcomes() {
		if d := validJSON(*o.out); d != "" {
			out = append(out, o.name+": "+d)
		}
	}
	return out
}

// validJSON checks one outcome's wire form ("" when valid).
func validJSON(o pipeline.Outcome) string {
	data, err := json.Marshal(o)
	if err != nil {
		return "does not marshal: " + err.Error()
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return "not a JSON object: " + err.Error()
	}
	kind, _ := m["outcome"].(string)
	phase, hasPhase := m["phase"].(string)
	switch {
	case !slices.Contains(allKinds, pipeline.Kind(kind)):
		return fmt.Sprintf("unknown outcome %q", kind)
	case hasPhase && !slices.Contains(pipeline.Phases, pipeline.Phase(phase)):
		return fmt.Sprintf("phase %q is not in the contract", phase)
	case !hasPhase && slices.Contains(failureKinds, pipeline.Kind(kind)):
		return fmt.Sprintf("%s without a phase", kind)
	}
	if v, ok := m["exit_code"]; ok && v != nil {
		if n, isNum := v.(float64); !isNum || n != float64(int(n)) {
			return fmt.Sprintf("exit_code %v is neither null nor an integer", v)
		}
	}
	if n, ok := m["elapsed_ms"].(float64); !ok || n < 0 {
		return fmt.Sprintf("elapsed_ms %v", m["elapsed_ms"])
	}
	if o.Earlier != nil {
		return validJSON(*o.Earlier)
	}
	return ""
}

// limit is the latest virtual time invocation o may report: a budget and
// an interval after its fire, or after its start when it came later or
// nothing was fired.
func (r *Run) limit(o reported) time.Duration {
	limit := o.start + PollBudget + PollInterval
	if ur := r.unitRun(o.obs); ur != nil {
		limit = max(o.start, ur.StartedAt+PollBudget) + PollInterval
	}
	limit += healthTime(o.out) // issue 18: the health step and its rollback come after the switch
	// A restore's boot action, started in time, has its own budget from its
	// start; one started late cannot hide the lateness.
	base := limit
	for _, u := range o.obs.runs {
		if u.Unit == restoreService && u.StartedAt <= base {
			limit = max(limit, u.StartedAt+PollBudget+PollInterval)
		}
	}
	return limit
}

func checkWithinBudget(r *Run) []string {
	var out []string
	for _, o := range r.outcomes() {
		if o.out.Kind == pipeline.Interrupted {
			continue
		}
		if limit := r.limit(o); o.obs.at > limit {
			out = append(out, fmt.Sprintf("%s reported at +%s, limit +%s", o.name, o.obs.at, limit))
		}
	}
	return out
}

func checkNoCommandAfterOutcome(r *Run) []string {
	if r.lateCommands > 0 {
		return []string{fmt.Sprintf("%d command(s) issued after their invocation had returned its outcome", r.lateCommands)}
	}
	return nil
}

func checkJournalCleared(r *Run) []string {
	last := r.final()
	if r.Recovered != nil {
		last = r.Recovered
	}
	if last == nil || last.Kind == pipeline.Interrupted || r.end.record == nil {
		return nil
	}
	return []string{fmt.Sprintf("an in-flight record (op %s, step %s) is left after the final outcome %s",
		r.end.record.Op, r.end.record.Step, last.Kind)}
}

// short names a closure by its alias, or gives the basename.
func short(basename string) string {
	switch basename {
	case "":
		return "(none)"
	case oldSys:
		return aliasOld
	case newSys:
		return aliasNew
	case thirdSys:
		return aliasThird
	}
	return basename
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// decisionSlack covers what an invocation may still do after deciding an
// ended unit: the profile's self-correction (nix-env --set, 90 ms observed).
const decisionSlack = 500 * time.Millisecond

// checkEndedDecidedPromptly: issue 9's "decide within one poll interval of
// the exit". A status read after the end that did not show it (failed, and
// retried within the budget; or the unit no longer loaded) excuses a later
// report.
func checkEndedDecidedPromptly(r *Run) []string {
	var out []string
	for _, o := range r.outcomes() {
		ur := r.unitRun(o.obs)
		if o.out.Kind == pipeline.Interrupted || ur == nil || !ur.Exited || o.obs.at < ur.ExitedAt {
			continue
		}
		if statusUnseenAfter(o.cmds, ur.ExitedAt) {
			continue
		}
		decided := o.obs.at
		if o.out.Restored != nil {
			// The restore that follows a failure comes after the decision.
			decided -= time.Duration(o.out.Restored.ElapsedMS) * time.Millisecond
		}
		decided -= healthTime(o.out) // issue 18: so do the health step and its rollback
		if limit := max(ur.ExitedAt, o.start) + PollInterval + decisionSlack; decided > limit {
			out = append(out, fmt.Sprintf("%s's unit ended at +%s (%s), decided %s at +%s, limit +%s",
				o.name, ur.ExitedAt, trueEnd(ur), o.out.Kind, decided, limit))
		}
	}
	return out
}

// statusUnseenAfter reports a systemctl show at or after t that did not
// show the unit's end: it failed (to be retried), or the unit was no longer
// loaded (its status lost, as after --collect: the end cannot be seen).
func statusUnseenAfter(cmds []command, t time.Duration) bool {
	return slices.ContainsFunc(cmds, func(c command) bool {
		return c.at >= t && isCmd(c.argv, "systemctl", "show") &&
			(c.exit != 0 || strings.Contains(c.stdout, "LoadState=not-found"))
	})
}
