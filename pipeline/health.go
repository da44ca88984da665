package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"
)

// HealthDir is the directory a closure ships its health checks in,
// relative to the closure's store path: HealthManifest lists them, and
// health-checks/<name> is each one's executable (nix/module.nix builds both
// from services.nixfleet-activate.healthChecks).
const (
	HealthDir      = "nixfleet-activate"
	HealthManifest = HealthDir + "/health.json"
	HealthChecks   = HealthDir + "/health-checks"
)

// MaxManifestSize bounds health.json, in bytes (64 KiB).
const MaxManifestSize = 64 << 10

// MaxOutputTail bounds a check's output tail in the outcome, in bytes (2 KiB,
// the last lines journalctl printed).
const MaxOutputTail = 2 << 10

// OutputTailLines is how many journal lines of a check are read (journalctl -n).
const OutputTailLines = 20

// DefaultCheckTimeout bounds a check whose manifest gives no timeout (30 s).
const DefaultCheckTimeout = 30 * time.Second

// DefaultCheckUnitPrefix prefixes the transient unit of each check:
// "<prefix><name>".
const DefaultCheckUnitPrefix = "nixfleet-activate-check-"

// SystemStateDegraded is `systemctl is-system-running`'s answer when the
// system is up but some units failed (systemd 252).
const SystemStateDegraded = "degraded"

// HealthBackend runs a closure's health checks. backends/real implements
// it with systemd-run, systemctl and journalctl (systemd 252); the
// simulator answers those command lines. A Backend that does not implement
// it cannot run checks: a closure that ships checks is then unhealthy.
type HealthBackend interface {
	// RunCheck starts argv detached in the transient unit (name without
	// ".service") and returns once it is queued; the unit stays loaded
	// after its process ends so its ExecMainStatus can be read. Errors:
	// *CommandError or plain.
	RunCheck(ctx context.Context, unit string, argv []string) error
	// StopUnit stops the unit (SIGTERM to its processes); a unit not
	// loaded is not an error.
	StopUnit(ctx context.Context, unit string) error
	// UnitOutput returns the last lines lines the unit wrote to the
	// journal (journalctl -u UNIT -n lines -o cat).
	UnitOutput(ctx context.Context, unit string, lines int) (string, error)
	// SystemState is `systemctl is-system-running`'s word ("running",
	// "degraded", "starting", ...).
	SystemState(ctx context.Context) (string, error)
}

// CheckSpec is one check of a closure's health.json.
type CheckSpec struct {
	// Name is the check's name: [A-Za-z0-9_-], 1 to 64 characters; its
	// executable is health-checks/<Name>.
	Name string `json:"name"`
	// TimeoutS is the check's time bound, in seconds (0: DefaultCheckTimeout).
	TimeoutS float64 `json:"timeout_s,omitempty"`
}

// Manifest is a closure's health.json.
type Manifest struct {
	Checks []CheckSpec `json:"checks"`
}

// Health check names: 1 to maxCheckNameLen characters of checkNameChars.
const (
	maxCheckNameLen = 64
	checkNameChars  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
)

// validCheckName reports whether name is a check's name as CheckSpec
// states it: 1 to 64 characters, each a letter, digit, "_" or "-".
func validCheckName(name string) bool {
	return name != "" && len(name) <= maxCheckNameLen && !strings.ContainsFunc(name, notIn(checkNameChars))
}

// CheckResult is one check as the outcome reports it:
// {"name","exit_code","signal","timed_out","output_tail"}.
type CheckResult struct {
	Name string `json:"name"`
	// ExitCode is the check's ExecMainStatus, null when unknown (killed,
	// timed out, never started).
	ExitCode *ExitStatus `json:"exit_code"`
	// Signal is set when the check was killed by a signal.
	Signal *int `json:"signal,omitempty"`
	// TimedOut: the check ran past its timeout and was stopped.
	TimedOut bool `json:"timed_out,omitempty"`
	// OutputTail is the end of its journal output (MaxOutputTail bytes).
	OutputTail string `json:"output_tail,omitempty"`
	// Error explains a check that could not be run or read.
	Error string `json:"error,omitempty"`
}

// passed reports a check that exited 0.
func (c CheckResult) passed() bool {
	return c.Error == "" && !c.TimedOut && c.ExitCode != nil && c.ExitCode.Known && c.ExitCode.Code == 0
}

// HealthReport is what the health step found: "health" in the outcome.
type HealthReport struct {
	// Checks are the closure's checks, in manifest order.
	Checks []CheckResult `json:"checks,omitempty"`
	// SystemState is `systemctl is-system-running`'s word, with
	// --require-running.
	SystemState string `json:"system_state,omitempty"`
	// Confirmed is set with --confirm-within: whether the confirmation
	// came in time.
	Confirmed *bool `json:"confirmed,omitempty"`
	// Failed names what failed: "check:<name>", "manifest",
	// "system-degraded", "system-state-unknown", "confirmation"; empty when
	// healthy.
	Failed []string `json:"failed,omitempty"`
	// Rollback reports the rollback to the previous closure, when one ran.
	Rollback *SwitchReport `json:"rollback,omitempty"`
	// RollbackMS is the time from the unhealthy verdict to the end of the
	// rollback (current-system back on the previous closure and its switch
	// ended), in milliseconds (virtual time under simulation); a recovery
	// that follows a rollback already fired reports the time it followed
	// it (the killed agent's share is not known).
	RollbackMS int64 `json:"rollback_ms,omitempty"`
	// ElapsedMS is the time from the start of this invocation's health
	// step (checks and the wait for a confirmation) to its verdict, in
	// milliseconds (virtual time under simulation).
	ElapsedMS int64 `json:"elapsed_ms"`
}

func (h *HealthReport) healthy() bool { return len(h.Failed) == 0 }

// OnUnhealthy says what an activation whose closure is unhealthy does.
type OnUnhealthy string

const (
	// OnUnhealthyRollback returns the host to the generation it was on
	// (the default): outcome rolled-back.
	OnUnhealthyRollback OnUnhealthy = "rollback"
	// OnUnhealthyKeep keeps the new closure: outcome settled-degraded
	// with the health report.
	OnUnhealthyKeep OnUnhealthy = "keep"
)

// wantsHealth reports whether the run has anything to check after the
// switch: options, or a manifest in the closure.
func (r *run) wantsHealth(closure string) bool {
	if r.o.RequireRunning || r.o.ConfirmWithin > 0 {
		return true
	}
	m, err := r.readManifest(closure)
	return err != nil || len(m.Checks) > 0
}

// readManifest reads the closure's health.json; no file is an empty
// manifest. Errors: unreadable, bad JSON, a bad check name.
func (r *run) readManifest(closure string) (Manifest, error) {
	var m Manifest
	data, err := r.d.FS.ReadRegular(path.Join(r.storePath(closure), HealthManifest), MaxManifestSize)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("%s: %w", HealthManifest, err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("%s: %w", HealthManifest, err)
	}
	for _, c := range m.Checks {
		if !validCheckName(c.Name) {
			return m, fmt.Errorf("%s: check name %q", HealthManifest, c.Name)
		}
	}
	return m, nil
}

// runHealth runs the closure's checks and the system-state check, and
// returns the report (not yet judged for confirmation).
func (r *run) runHealth(ctx context.Context, closure string) *HealthReport {
	rep := &HealthReport{}
	m, err := r.readManifest(closure)
	if err != nil {
		rep.Checks = []CheckResult{{Name: "manifest", ExitCode: UnknownExit(), Error: err.Error()}}
		rep.Failed = append(rep.Failed, "manifest")
		return rep
	}
	hb, _ := r.d.Backend.(HealthBackend)
	for _, spec := range m.Checks {
		if ctx.Err() != nil {
			return rep
		}
		res := r.runCheck(ctx, hb, closure, spec)
		rep.Checks = append(rep.Checks, res)
		if !res.passed() {
			rep.Failed = append(rep.Failed, "check:"+spec.Name)
			if r.o.OnUnhealthy != OnUnhealthyKeep {
				break // rolling back: every further second runs the unhealthy closure
			}
		}
	}
	if r.o.RequireRunning {
		r.checkSystemState(ctx, hb, rep)
	}
	return rep
}

// checkSystemState adds `systemctl is-system-running` to rep: degraded (or
// unreadable) fails.
func (r *run) checkSystemState(ctx context.Context, hb HealthBackend, rep *HealthReport) {
	if hb == nil {
		rep.Failed = append(rep.Failed, "system-state-unknown")
		return
	}
	state, err := hb.SystemState(ctx)
	rep.SystemState = state
	switch {
	case err != nil && state == "":
		rep.Failed = append(rep.Failed, "system-state-unknown")
	case state == SystemStateDegraded:
		rep.Failed = append(rep.Failed, "system-degraded")
	}
}

// runCheck runs one check in its transient unit, bounded by its timeout.
func (r *run) runCheck(ctx context.Context, hb HealthBackend, closure string, spec CheckSpec) CheckResult {
	res := CheckResult{Name: spec.Name, ExitCode: UnknownExit()}
	if hb == nil {
		res.Error = "this backend cannot run health checks"
		return res
	}
	unit := DefaultCheckUnitPrefix + spec.Name
	if err := r.releaseCheckUnit(ctx, hb, unit); err != nil {
		res.Error = "check unit not released: " + err.Error()
		return res
	}
	argv := []string{path.Join(r.storePath(closure), HealthChecks, spec.Name)}
	r.log.Info("health check", "check", spec.Name, "unit", unit)
	if err := hb.RunCheck(ctx, unit, argv); err != nil {
		res.Error = "check not started: " + err.Error()
		return res
	}
	timeout := time.Duration(spec.TimeoutS * float64(time.Second))
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	report, ok := r.waitUnit(ctx, watch{unit: unit, deadline: r.d.Clock.Now().Add(timeout)}, &unitReader{unit: unit})
	if !ok {
		res.Error = "interrupted"
		return res
	}
	// LOADBEARING: output before the stop: a stopped transient unit is unloaded, its invocation ID gone.
	failed := report.State == UnitExited && !report.ExitedCleanly()
	res.OutputTail = r.lateCheckOutput(ctx, hb, unit, failed)
	if report.State == UnitRunning {
		res.TimedOut = true
		r.log.Warn("health check timed out, stopping it", "check", spec.Name, "timeout", timeout)
		_ = hb.StopUnit(ctx, unit)
		return res
	}
	res.ExitCode, res.Signal = report.ExitCode, report.Signal
	if report.State == UnitUnknown {
		res.Error = "the check's unit status is unknown (not loaded)"
	}
	return res
}

// releaseCheckUnit frees a check unit's name: a running one (left by a
// killed agent) is stopped first.
func (r *run) releaseCheckUnit(ctx context.Context, hb HealthBackend, unit string) error {
	err := r.d.Backend.ReleaseUnit(ctx, unit)
	if errors.Is(err, ErrUnitBusy) {
		if err := hb.StopUnit(ctx, unit); err != nil {
			return err
		}
		err = r.d.Backend.ReleaseUnit(ctx, unit)
	}
	return err
}

// lateCheckOutput reads the check's output; for a failed check (exited
// non-zero or killed: its output is the report) whose output reads empty it
// reads again after a quarter, a half and a whole poll
// interval, since journald may store a stream's last lines late.
func (r *run) lateCheckOutput(ctx context.Context, hb HealthBackend, unit string, failed bool) string {
	out := r.checkOutput(ctx, hb, unit)
	for _, wait := range []time.Duration{max(r.o.PollInterval/4, 250*time.Millisecond),
		max(r.o.PollInterval/2, 500*time.Millisecond), max(r.o.PollInterval, time.Second)} {
		if out != "" || !failed || !r.sleep(ctx, wait) {
			return out
		}
		out = r.checkOutput(ctx, hb, unit)
	}
	return out
}

// checkOutput reads the check's bounded output tail ("" when unreadable).
func (r *run) checkOutput(ctx context.Context, hb HealthBackend, unit string) string {
	out, err := hb.UnitOutput(ctx, unit, OutputTailLines)
	if err != nil {
		r.log.Warn("check output unreadable", "unit", unit, "err", err)
		return ""
	}
	// GOTCHA: journalctl prints "-- No entries --" on stdout for a unit without messages (systemd 252), exit 0.
	out = strings.TrimRight(out, "\n")
	if out == "-- No entries --" {
		return ""
	}
	return tailBytes(out, MaxOutputTail)
}

// tailBytes keeps the last max bytes of s, cut at a rune boundary.
func tailBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[len(s)-max:]
	for i := 0; i < len(s) && i < 4; i++ {
		if s[i]&0xC0 != 0x80 {
			return s[i:]
		}
	}
	return s
}
